"""Scores any emotion .tflite on FER2013 faces with the appliance's own TFLite runtime.

    .venv/bin/python scripts/evaluate.py models/emotion.tflite \
        --data fer2013_train_publictest.npz [--split PublicTest] [--png confusion.png]
    .venv/bin/python scripts/evaluate.py model.tflite --data fer2013.csv --split PrivateTest
    .venv/bin/python scripts/evaluate.py models/emotion.tflite --data ... \
        --split Validation PublicTest --log models/train_runs.jsonl
    .venv/bin/python scripts/evaluate.py models/emotion.tflite --data ... --degrade

Prints accuracy, macro-F1, per-class recall, the confusion matrix and the median milliseconds
per face on one thread, and with ``--json`` writes them as JSON; ``--log`` appends one record
of the measurement to a run log (``models/train_runs.jsonl``). ``Validation`` is the held-out
part of Training that ``train.py`` chooses on (``ferdata.load_selection``: Training copies of
PublicTest faces removed, 10% stratified, fixed seed); on PublicTest from an npz the scores
of the faces with and without a pixel-identical copy in Training are printed too.
``--degrade`` scores the faces under each condition of the robustness suite
(``degrade.SUITE``: distance, sensor noise, gamma, side light, blur, JPEG, yaw, roll), seeded
by ``--seed``, through ``appliance.mood.classifier.EmotionClassifier`` exactly as the
appliance classifies a crop (the model's ``emotion.json`` and sha256 are required).

The input range comes from the ``emotion.json`` beside the model (``--range LO HI``
overrides it); the input and output tensors' own scale and zero point are applied, so int8
and float models both work. Output classes must be in FER2013 order (angry, disgust, fear,
happy, sad, surprise, neutral).
Apart from ``--degrade``, the runtime's built-in kernels are used (the kernels the model's
reference answers were recorded with); ``--xnnpack`` scores the file with the runtime's
default XNNPACK delegate instead (faster, a few outputs differ), which is what the
appliance's classifier uses. ``--degrade`` uses whatever kernels the classifier chooses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import degrade  # noqa: E402
import ferdata  # noqa: E402

from appliance.mood import runtime  # noqa: E402
from appliance.mood.classifier import EmotionClassifier  # noqa: E402

VALIDATION = "Validation"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("model", type=Path, help=".tflite file")
    p.add_argument("--data", type=Path, required=True, help="npz or fer2013.csv")
    p.add_argument("--split", nargs="+", default=["PublicTest"],
                   choices=(*ferdata.SPLITS, VALIDATION),
                   help="one or more splits; Validation = train.py's held-out part of Training")
    p.add_argument("--range", type=float, nargs=2, metavar=("LO", "HI"),
                   help="input range (default: from emotion.json beside the model, else 0 1)")
    p.add_argument("--png", type=Path, help="write the confusion matrix here")
    p.add_argument("--json", type=Path, help="write the scores here")
    p.add_argument("--xnnpack", action="store_true",
                   help="use the runtime's default XNNPACK delegate, not the built-in kernels")
    p.add_argument("--degrade", action="store_true",
                   help="score each condition of the robustness suite (degrade.SUITE)")
    p.add_argument("--seed", type=int, default=0, help="seed of the suite's random draws")
    p.add_argument("--log", type=Path, help="append a record of this measurement here")
    p.add_argument("--note", default="", help="free text for the --log record")
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


def load_faces(data: Path, split: str) -> ferdata.Split:
    """A split of the file, or ``Validation``: the held-out part of Training."""
    if split == VALIDATION:
        return ferdata.load_selection(data).val
    return ferdata.load_split(data, split)


def copies_breakdown(data: Path, split: str, faces: ferdata.Split,
                     predicted: np.ndarray) -> dict[str, object] | None:
    """Accuracy on the PublicTest faces with and without a pixel-identical copy in Training
    (a model trained on Training has seen the former), or None where that cannot be told."""
    if split != "PublicTest" or data.suffix == ".csv":
        return None
    copied = ferdata.copies_of(faces.images, ferdata.load_split(data, "Training").images)
    right = predicted == faces.labels
    return {"faces_with_copy": int(copied.sum()),
            "accuracy_with_copy": round(float(right[copied].mean()), 4),
            "accuracy_without_copy": round(float(right[~copied].mean()), 4)}


def measure(args: argparse.Namespace, split: str) -> dict:
    """Scores (and timing) of the model on one split, printed as it goes."""
    faces = load_faces(args.data, split)
    probs, times = classify_all(args.model, faces.images, input_range(args),
                                exact=not args.xnnpack)
    predicted = probs.argmax(axis=1)
    result = ferdata.scores(faces.labels, predicted)
    ms = float(np.median(times))
    kernels = "XNNPACK" if args.xnnpack else "built-in kernels"
    print(f"{args.model.name} on {args.data.name} {split} ({runtime.runtime_name()}, {kernels})")
    print(report(result, ms, len(faces.labels)))
    copies = copies_breakdown(args.data, split, faces, predicted)
    if copies:
        print(f"{copies['faces_with_copy']} faces have a pixel-identical copy in Training: "
              f"accuracy {copies['accuracy_with_copy']:.4f} on them, "
              f"{copies['accuracy_without_copy']:.4f} on the others")
    if args.png:
        ferdata.plot_confusion(np.array(result["confusion"]), f"{args.model.name}: {split}",
                               args.png.with_stem(f"{args.png.stem}_{split}")
                               if len(args.split) > 1 else args.png)
    return {**result, "faces": len(faces.labels), "median_ms": round(ms, 3),
            "runtime": runtime.runtime_name(), "kernels": kernels,
            **({"training_copies": copies} if copies else {})}


def score_suite(model: Path, faces: ferdata.Split, seed: int) -> list[dict[str, object]]:
    """Accuracy and macro-F1 clean and under each condition of ``degrade.SUITE``, with the
    appliance's own classifier; the last row is the mean over the conditions."""
    classifier = EmotionClassifier(model)
    rows = []
    for condition in (None, *degrade.SUITE):
        images = (faces.images if condition is None
                  else degrade.apply_condition(condition, faces.images, seed))
        predicted = np.array([classifier.classify(face).argmax() for face in images])
        result = ferdata.scores(faces.labels, predicted)
        rows.append({"condition": "clean" if condition is None else condition.name,
                     "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]})
        print(f"  {rows[-1]['condition']:<45} {result['accuracy']:.4f}  {result['macro_f1']:.4f}",
              flush=True)
    mean = {key: round(float(np.mean([r[key] for r in rows[1:]])), 4)
            for key in ("accuracy", "macro_f1")}
    rows.append({"condition": f"mean of the {len(rows) - 1} conditions", **mean})
    return rows


def suite_table(rows: list[dict[str, object]]) -> str:
    """The suite as a Markdown table, with each condition's change from clean."""
    clean = float(rows[0]["accuracy"])  # type: ignore[arg-type]
    lines = ["| condition | accuracy | change | macro-F1 |", "|---|---|---|---|"]
    for row in rows:
        acc = float(row["accuracy"])  # type: ignore[arg-type]
        change = "" if row is rows[0] else f"{100 * (acc - clean):+.1f}"
        lines.append(f"| {row['condition']} | {100 * acc:.1f}% | {change} | "
                     f"{float(row['macro_f1']):.3f} |")  # type: ignore[arg-type]
    return "\n".join(lines)


def log_record(args: argparse.Namespace, results: dict[str, dict]) -> dict:
    """One measurement-only record for the run log: the file, the settings, the scores."""
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()
    settings = {"model": args.model.name, "sha256": digest, "data": args.data.name,
                "splits": args.split, "degrade": args.degrade, "seed": args.seed,
                "xnnpack": args.xnnpack, "val_fraction": ferdata.VAL_FRACTION,
                "val_seed": ferdata.VAL_SEED,
                **({"suite_through": "appliance.mood.classifier.EmotionClassifier"}
                   if args.degrade else {})}
    return {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": "measurement",
            "script": "evaluate.py", "note": args.note, "settings": settings,
            **{key.lower(): value for key, value in results.items()}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, dict] = {}
    for split in args.split:
        results[split] = measure(args, split)
        if args.degrade:
            print(f"robustness suite on {split} (seed {args.seed}): accuracy, macro-F1")
            rows = score_suite(args.model, load_faces(args.data, split), args.seed)
            print(suite_table(rows))
            results[f"{split}_degrade"] = {"seed": args.seed, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.log:
        with args.log.open("a") as f:
            f.write(json.dumps(log_record(args, results)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
