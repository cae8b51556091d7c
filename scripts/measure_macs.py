"""Multiply-accumulates per invoke of the face detectors, the emotion model and the music
tagger, from the files.

    .venv/bin/python scripts/measure_macs.py

Counts the convolutions, depthwise convolutions and fully connected layers of each
``.tflite`` from its operators' tensor shapes (``_get_ops_details``; other operators are
left out, they are a small share in these networks), then the MACs of one room-scale frame
for each detector setting (whole frame + tiles; for a full-range variant also a short-range
whole-frame pass and one short-range re-boxing per candidate), and of a later frame of a
burst, where each person is followed by one short-range pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.mood import runtime  # noqa: E402
from appliance.mood.classifier import DEFAULT_MODEL  # noqa: E402
from appliance.mood.faces import MODELS, find_model, tile_boxes  # noqa: E402
from appliance.music import tagger  # noqa: E402


def count_macs(path: Path) -> int:
    """MACs of one invoke of the model at ``path``."""
    interpreter = runtime.interpreter_class()(model_path=str(path))
    interpreter.allocate_tensors()
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        out = shapes[outs[0]]
        weights = shapes[ins[1]]
        if name == "CONV_2D":  # weights (out_c, kh, kw, in_c)
            total += int(np.prod(out[:3])) * int(np.prod(weights))
        elif name == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out_c)
            total += int(np.prod(out)) * int(np.prod(weights[1:3]))
        else:  # weights (out, in)
            total += int(np.prod(out[:-1])) * int(np.prod(weights))
    return total


def main() -> int:
    macs = {name: count_macs(find_model(m.file)) for name, m in MODELS.items()}
    emotion = count_macs(DEFAULT_MODEL)
    for name, value in macs.items():
        print(f"{name}: {value / 1e6:.1f} M MACs per invoke")
    print(f"emotion model: {emotion / 1e6:.1f} M MACs per face")
    for name, tiles in (("short_range", 0), ("short_range", 2), ("full_range", 2),
                        ("full_range_sparse", 2), ("full_range", 3)):
        passes = 1 + len(tile_boxes(2304, 1296, tiles, multiple=MODELS[name].input_size))
        # Another variant adds a short-range whole-frame pass and re-boxes each candidate on
        # its window and the window's mirror image.
        extra = 3 * macs["short_range"] if name != "short_range" else 0
        frame = passes * macs[name] + extra + emotion
        print(f"{name}:{tiles} on 2304x1296: {passes} passes, one face: "
              f"{frame / 1e6:.0f} M MACs per frame")
    follow = macs["short_range"] + emotion
    print(f"a later frame of the burst, one person followed: {follow / 1e6:.0f} M MACs")
    patch = count_macs(tagger.DEFAULT_MODEL)
    print(f"music tagger: {patch / 1e6:.0f} M MACs per 3-s patch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
