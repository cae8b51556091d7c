"""Scores any emotion .tflite on FER2013 faces with the appliance's own TFLite runtime.

    .venv/bin/python scripts/evaluate.py models/emotion.tflite \
        --data fer2013_train_publictest.npz [--split PublicTest] [--png confusion.png]
    .venv/bin/python scripts/evaluate.py model.tflite --data fer2013.csv --split PrivateTest

Prints accuracy, macro-F1, per-class recall, the confusion matrix and the median milliseconds
per face on one thread, and with ``--json`` writes them as JSON. The input range comes from
the ``emotion.json`` beside the model (``--range LO HI`` overrides it); the input and output
tensors' own scale and zero point are applied, so int8 and float models both work. Output
classes must be in FER2013 order (angry, disgust, fear, happy, sad, surprise, neutral).
The runtime's built-in kernels are used, as the appliance uses them; ``--xnnpack`` scores
the file with the runtime's default XNNPACK delegate instead (faster, a few outputs differ).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import ferdata  # noqa: E402

from appliance.mood import runtime  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", type=Path, help=".tflite file")
    p.add_argument("--data", type=Path, required=True, help="npz or fer2013.csv")
    p.add_argument("--split", default="PublicTest", choices=ferdata.SPLITS)
    p.add_argument("--range", type=float, nargs=2, metavar=("LO", "HI"),
                   help="input range (default: from emotion.json beside the model, else 0 1)")
    p.add_argument("--png", type=Path, help="write the confusion matrix here")
    p.add_argument("--json", type=Path, help="write the scores here")
    p.add_argument("--xnnpack", action="store_true",
                   help="use the runtime's default XNNPACK delegate, not the built-in kernels")
    return p.parse_args(argv)


def input_range(args: argparse.Namespace) -> tuple[float, float]:
    """The range pixel values 0..255 map onto before quantisation."""
    if args.range:
        return args.range[0], args.range[1]
    contract = args.model.with_suffix(".json")
    if contract.exists():
        lo, hi = json.loads(contract.read_text())["input"]["range"]
        return float(lo), float(hi)
    return 0.0, 1.0


def classify_all(model: Path, faces: np.ndarray, span: tuple[float, float],
                 exact: bool = True) -> tuple[np.ndarray, list[float]]:
    """Probabilities for every face and the milliseconds each invoke took (one thread)."""
    interpreter = runtime.load_interpreter(model, num_threads=1, exact=exact)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    lo, hi = span
    probs = np.empty((len(faces), 7), dtype=np.float32)
    times = []
    for i, face in enumerate(faces):
        x = lo + face.astype(np.float32) * ((hi - lo) / 255.0)
        interpreter.set_tensor(inp["index"], runtime.quantize(x.reshape(inp["shape"]), inp))
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
        probs[i] = runtime.dequantize(interpreter.get_tensor(out["index"])[0], out)
    return probs, times


def report(result: dict, ms: float, faces: int) -> str:
    """The scores as readable lines."""
    lines = [f"faces {faces}  accuracy {result['accuracy']:.4f}  "
             f"macro-F1 {result['macro_f1']:.4f}  median {ms:.2f} ms/face (1 thread)",
             "recall  " + "  ".join(f"{k} {v:.3f}" for k, v in result["recall"].items()),
             "confusion (rows true, columns predicted: " + ", ".join(ferdata.LABELS) + ")"]
    lines += ["  " + " ".join(f"{n:5d}" for n in row) for row in result["confusion"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    split = ferdata.load_split(args.data, args.split)
    probs, times = classify_all(args.model, split.images, input_range(args),
                                exact=not args.xnnpack)
    result = ferdata.scores(split.labels, probs.argmax(axis=1))
    ms = float(np.median(times))
    kernels = "XNNPACK" if args.xnnpack else "built-in kernels"
    print(f"{args.model.name} on {args.data.name} {args.split} "
          f"({runtime.runtime_name()}, {kernels})")
    print(report(result, ms, len(split.labels)))
    if args.png:
        ferdata.plot_confusion(np.array(result["confusion"]),
                               f"{args.model.name}: {args.split}", args.png)
    if args.json:
        args.json.write_text(json.dumps({**result, "median_ms": round(ms, 3),
                                         "runtime": runtime.runtime_name(),
                                         "kernels": kernels}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
