"""Exports candidate networks, untrained, as the appliance would ship them, to measure what
fits the size and time budgets before any GPU time is spent training them.

    .venv-train/bin/python scripts/bench_arch.py scripts/sweeps/arch-candidates.txt \
        --data fer2013_train_publictest.npz --out build/arch
    .venv-bookworm/bin/python scripts/bench_latency.py models/emotion.tflite build/arch/*.tflite

CANDIDATES has a line per network, ``NAME|train.py arguments`` (``scripts/recipes.py``, the
format ``gpu_sweep.sh`` reads, so the same file can train the ones that fit). Each network is
built by ``emotion_net.model_from`` with fixed seed, wrapped with its mirror view and converted
to int8 by ``export_tflite`` (calibrated on a few Training faces): the file has the operators,
sizes and multiply-accumulates of a trained one, so its size and speed are the trained file's;
its answers mean nothing. Prints a table of parameters, MACs per face (both views) and bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emotion_net
import export_tflite
import recipes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("candidates", type=Path, help="NAME|train.py arguments, a line per network")
    p.add_argument("--data", type=Path, required=True, help="npz or fer2013.csv (calibration)")
    p.add_argument("--out", type=Path, default=Path("build/arch"))
    p.add_argument("--calibration", type=int, default=50, help="Training faces to calibrate")
    return p.parse_args(argv)


def export(name: str, settings: argparse.Namespace, calibration: np.ndarray, out: Path) -> str:
    """Writes OUT/NAME.tflite for one candidate; returns its table row."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    net = emotion_net.model_from(settings)
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
    try:
        listed = recipes.read(args.candidates)  # every line checked before any is built
    except (OSError, ValueError) as error:
        raise SystemExit(f"bench_arch: {error}") from None
    calibration = export_tflite.calibration_faces(args.data, args.calibration, seed=1)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| name | network | parameters | M MACs a face | MB on disk |")
    print("|---|---|---|---|---|")
    for recipe in listed:
        print(export(recipe.name, recipe.settings, calibration, args.out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
