"""FER2013 loading and scoring shared by train.py, export_tflite.py and evaluate.py.

Reads either the project's npz (FER2013 Training and PublicTest with FER+ votes) or the
original Kaggle ``fer2013.csv`` (columns ``emotion``, ``pixels``, ``Usage``). Needs numpy only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER+ vote columns in the order of LABELS (neutral, happiness, surprise, sadness, anger,
# disgust, fear, contempt, unknown, NF): contempt, unknown and NF have no FER2013 class.
_FERPLUS_TO_FER = (4, 5, 6, 1, 3, 2, 0)
SPLITS = ("Training", "PublicTest", "PrivateTest")


@dataclass(frozen=True)
class Split:
    """One split of faces: images uint8 (N, 48, 48), labels int (N,), FER+ votes (N, 7) or None."""

    images: np.ndarray
    labels: np.ndarray
    votes: np.ndarray | None


def load_split(path: Path, split: str) -> Split:
    """Loads one split (``Training``, ``PublicTest`` or ``PrivateTest``) from an npz or CSV.

    Raises:
        ValueError: the file has no rows for that split or is not a known format.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    data = _load_csv(path, split) if path.suffix == ".csv" else _load_npz(path, split)
    if len(data.labels) == 0:
        raise ValueError(f"{path}: no {split} rows; the file holds other splits only")
    return data


def _load_npz(path: Path, split: str) -> Split:
    with np.load(path) as d:
        names = [str(n) for n in d["usage_names"]]
        keep = d["usage"] == names.index(split)
        votes = d["ferplus_votes"][keep][:, list(_FERPLUS_TO_FER)].astype(np.float32)
        # Rows whose votes are unknown (-1) carry no FER+ information.
        votes[(d["ferplus_votes"][keep] < 0).any(axis=1)] = 0.0
        return Split(d["images"][keep], d["labels"][keep].astype(np.int64), votes)


def _load_csv(path: Path, split: str) -> Split:
    images, labels = [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Usage"].strip() != split:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            images.append(pixels.reshape(48, 48))
            labels.append(int(row["emotion"]))
    stack = np.stack(images) if images else np.zeros((0, 48, 48), np.uint8)
    return Split(stack, np.array(labels, dtype=np.int64), None)


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int = 7) -> np.ndarray:
    """Confusion matrix: rows are true classes, columns predicted classes."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    """Accuracy, macro-F1, per-class recall and the confusion matrix, as plain JSON types."""
    matrix = confusion(labels, predicted)
    true_pos = np.diag(matrix).astype(np.float64)
    recall = true_pos / np.maximum(matrix.sum(axis=1), 1)
    precision = true_pos / np.maximum(matrix.sum(axis=0), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {
        "accuracy": round(float(true_pos.sum() / max(matrix.sum(), 1)), 4),
        "macro_f1": round(float(f1.mean()), 4),
        "recall": {name: round(float(r), 4) for name, r in zip(LABELS, recall, strict=True)},
        "confusion": matrix.tolist(),
    }


def plot_confusion(matrix: np.ndarray, title: str, out: Path) -> None:
    """Writes a row-normalised confusion matrix as a PNG (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n{matrix[i, j]}", ha="center", va="center",
                    fontsize=7, color=colour)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=45)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
