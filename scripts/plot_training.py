"""Draws the model card's figures: training curves and the class distribution.

    python scripts/plot_training.py --history build/train/history.csv \
        --data fer2013_train_publictest.npz --out models/
    python scripts/plot_training.py --history a.csv b.csv --title "seed 1" "seed 2" ...

Writes ``OUT/training_curves.png`` (accuracy and loss per epoch, training vs validation, from
the CSVLogger history that train.py keeps; one row per run) and
``OUT/class_distribution.png`` (faces per class in Training and PublicTest). Needs numpy and
matplotlib.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata


def read_history(path: Path) -> dict[str, list[float]]:
    """Columns of a Keras CSVLogger file; a resumed run's repeated header rows are skipped."""
    columns: dict[str, list[float]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["epoch"] == "epoch":
                continue
            for key, value in row.items():
                columns.setdefault(key, []).append(float(value))
    return columns


def plot_curves(runs: list[tuple[str, dict[str, list[float]]]], out: Path,
                validation: str = "Validation") -> None:
    """Accuracy and loss per epoch, training vs ``validation`` (the faces that chose the epoch),
    side by side; a row per run."""
    fig, grid = plt.subplots(len(runs), 2, figsize=(10, 4 * len(runs)), squeeze=False)
    for axes, (title, history) in zip(grid, runs, strict=True):
        epochs = [int(e) + 1 for e in history["epoch"]]
        for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
            ax.plot(epochs, history[metric], label=f"training {metric} (augmented)")
            ax.plot(epochs, history[f"val_{metric}"],
                    label=f"validation {metric} ({validation})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.set_title(f"{title}: {metric}" if title else metric)
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_classes(data: Path, out: Path) -> None:
    """Faces per class in Training and PublicTest."""
    x = np.arange(len(ferdata.LABELS))
    fig, ax = plt.subplots(figsize=(9, 4))
    for offset, split in ((-0.2, "Training"), (0.2, "PublicTest")):
        counts = np.bincount(ferdata.load_split(data, split).labels, minlength=7)
        bars = ax.bar(x + offset, counts, width=0.4, label=split)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, ferdata.LABELS)
    ax.set_ylabel("faces")
    ax.set_yscale("log")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("FER2013 class distribution")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--history", type=Path, nargs="+", required=True, help="history.csv per run")
    p.add_argument("--title", nargs="+", default=[], help="a title per run")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--validation", default="Validation", choices=["Validation", "PublicTest"],
                   help="the faces that chose the epochs: train.py's split of Training (its "
                        "default) or PublicTest (--val publictest, as c448963c was made)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    titles = args.title + [""] * (len(args.history) - len(args.title))
    runs = [(t, read_history(h)) for t, h in zip(titles, args.history, strict=True)]
    plot_curves(runs, args.out / "training_curves.png", args.validation)
    plot_classes(args.data, args.out / "class_distribution.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
