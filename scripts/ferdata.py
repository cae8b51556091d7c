"""FER2013 loading and scoring shared by train.py, export_tflite.py and evaluate.py.

Reads either the project's npz (FER2013 Training and PublicTest with FER+ votes) or the
original Kaggle ``fer2013.csv`` (columns ``emotion``, ``pixels``, ``Usage``). Needs numpy only.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER+ vote columns in the order of LABELS (neutral, happiness, surprise, sadness, anger,
# disgust, fear, contempt, unknown, NF): contempt, unknown and NF have no FER2013 class.
_FERPLUS_TO_FER = (4, 5, 6, 1, 3, 2, 0)
SPLITS = ("Training", "PublicTest", "PrivateTest")
#: The share of Training held out for choosing epochs, seeds and recipes, and its fixed seed:
#: every training run, whatever its own seed, is chosen on the same faces.
VAL_FRACTION = 0.1
VAL_SEED = 0


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


def take(split: Split, rows: np.ndarray) -> Split:
    """The given rows (indices or a boolean mask) of a split."""
    votes = None if split.votes is None else split.votes[rows]
    return Split(split.images[rows], split.labels[rows], votes)


@dataclass(frozen=True)
class Selection:
    """Training cut for honest model selection.

    Attributes:
        train: the faces to train on.
        val: the held-out faces to choose epochs, seeds and recipes on.
        copies_removed: Training faces dropped first because their pixels are identical to a
            PublicTest face (they would otherwise sit in ``train`` or ``val``).
    """

    train: Split
    val: Split
    copies_removed: int


def pixel_keys(images: np.ndarray) -> list[bytes]:
    """A digest of each image's pixels: equal keys mean identical pictures."""
    return [hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=16).digest()
            for img in images]


def copies_of(images: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``images`` whose pixels are identical to one of ``others``."""
    seen = set(pixel_keys(others))
    return np.array([key in seen for key in pixel_keys(images)], dtype=bool)


def split_validation(train: Split, test_images: np.ndarray, fraction: float = VAL_FRACTION,
                     seed: int = VAL_SEED) -> Selection:
    """Drops Training copies of test faces, then holds out a stratified share for validation.

    Identical pictures within Training form one group that goes wholly to one side, so no
    validation face has a copy in the training part. Per class (a group's class is its first
    row's label), groups are ranked by a seeded hash of their pixels and taken in that order
    until the class's share is reached: the split depends only on the pixels, labels, fraction
    and seed, not on the order of the rows.

    Raises:
        ValueError: ``fraction`` is not between 0 and 1.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    copies = copies_of(train.images, test_images)
    kept = take(train, ~copies)
    in_val = np.zeros(len(kept.labels), dtype=bool)
    for groups in _ranked_groups(kept, seed):
        quota = round(fraction * sum(len(rows) for rows in groups))
        taken = 0
        for rows in groups:
            if taken >= quota:
                break
            in_val[rows] = True
            taken += len(rows)
    return Selection(take(kept, ~in_val), take(kept, in_val), int(copies.sum()))


def fold_ids(split: Split, folds: int, seed: int = VAL_SEED) -> np.ndarray:
    """The fold (0 to ``folds`` - 1) of each face, for teachers that must read faces they
    did not train on: stratified like :func:`split_validation` (each class's groups of
    identical pictures dealt in turn, in seeded-hash order), copies always in one fold.

    Raises:
        ValueError: fewer than 2 folds.
    """
    if folds < 2:
        raise ValueError(f"folds must be 2 or more, got {folds}")
    fold = np.zeros(len(split.labels), dtype=np.int64)
    for groups in _ranked_groups(split, seed):
        for turn, rows in enumerate(groups):
            fold[rows] = turn % folds
    return fold


def _ranked_groups(split: Split, seed: int) -> list[list[list[int]]]:
    """Per class, the rows of each group of identical pictures (a group's class is its first
    row's label), ranked by a seeded hash of the pixels: an order that depends on neither the
    order of the rows nor anything but the pictures and the seed."""
    keys = pixel_keys(split.images)
    group_rows: dict[bytes, list[int]] = {}
    for row, key in enumerate(keys):
        group_rows.setdefault(key, []).append(row)
    salt = seed.to_bytes(8, "little", signed=True)
    rank = {key: hashlib.blake2b(salt + key, digest_size=8).digest() for key in group_rows}
    ranked = sorted(group_rows, key=rank.__getitem__)
    return [[group_rows[key] for key in ranked if split.labels[group_rows[key][0]] == label]
            for label in range(len(LABELS))]


def load_selection(path: Path, fraction: float = VAL_FRACTION,
                   seed: int = VAL_SEED) -> Selection:
    """Training of ``path`` split by :func:`split_validation` against its PublicTest."""
    return split_validation(load_split(path, "Training"), load_split(path, "PublicTest").images,
                            fraction, seed)


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
