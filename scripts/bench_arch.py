"""Exports candidate networks, untrained, as the appliance would ship them, to measure what
fits the size and time budgets before any GPU time is spent training them.

    .venv-train/bin/python scripts/bench_arch.py scripts/sweeps/arch-candidates.txt \
        --data fer2013_train_publictest.npz --out build/arch
    .venv-bookworm/bin/python scripts/bench_latency.py models/emotion.tflite build/arch/*.tflite

CANDIDATES has a line per network, ``NAME|train.py arguments`` (the recipe format of
``gpu_sweep.sh``, so the same file can train the ones that fit). Each network is built by
``train.model_from`` with fixed seed, wrapped with its mirror view and converted to int8 by
``export_tflite`` (calibrated on a few Training faces): the file has the operators, sizes and
multiply-accumulates of a trained one, so its size and speed are the trained file's; its
answers mean nothing. Prints a table of parameters, MACs per face (both views) and bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_tflite
import ferdata
import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("candidates", type=Path, help="NAME|train.py arguments, a line per network")
    p.add_argument("--data", type=Path, required=True, help="npz or fer2013.csv (calibration)")
    p.add_argument("--out", type=Path, default=Path("build/arch"))
    p.add_argument("--calibration", type=int, default=50, help="Training faces to calibrate")
    return p.parse_args(argv)


def candidates(path: Path) -> list[tuple[str, argparse.Namespace]]:
    """(name, train.py settings) for each line of a recipe file, all checked before any work."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, extra = line.partition("|")
        if not sep or not name.strip():
            raise SystemExit(f"{path}:{number}: want NAME|train.py arguments, got {line!r}")
        try:
            settings = train.parse_args(["--data", "unused", *extra.split()])
        except SystemExit:  # argparse has said what is wrong, above
            raise SystemExit(f"{path}:{number}: {name.strip()}: not train.py arguments") from None
        found.append((name.strip(), settings))
    return found


def export(name: str, settings: argparse.Namespace, calibration: np.ndarray, out: Path) -> str:
    """Writes OUT/NAME.tflite for one candidate; returns its table row."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    net = train.model_from(settings)
    model = export_tflite.combined([export_tflite.without_softmax(net)], flip=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter's own chatter
        tflite = export_tflite.convert(model, calibration)
    (out / f"{name}.tflite").write_bytes(tflite)
    macs = 2 * export_tflite.count_macs(net)  # the face and its mirror image
    arguments = f"--arch {settings.arch} --widths {settings.widths} --dense {settings.dense}"
    return (f"| {name} | {arguments} | {net.count_params():,} "
            f"| {macs / 1e6:.1f} | {len(tflite) / 1e6:.2f} |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    listed = candidates(args.candidates)
    faces = ferdata.load_split(args.data, "Training").images
    calibration = faces[np.random.default_rng(1).choice(len(faces), args.calibration,
                                                        replace=False)]
    args.out.mkdir(parents=True, exist_ok=True)
    print("| name | network | parameters | M MACs a face | MB on disk |")
    print("|---|---|---|---|---|")
    for name, settings in listed:
        print(export(name, settings, calibration, args.out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
