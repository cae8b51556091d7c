"""Synthetic FER2013-shaped data for the training and measuring scripts' tests.

Faces are noise around a grey level that rises with the label, so that a small network can
learn them in a few epochs; they are drawn by formula, never from face data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SPLITS = ("Training", "PublicTest", "PrivateTest")


def faces(rows_per_split: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images uint8 (N, 48, 48), labels, usage)``; labels cycle 0-6 within each split and
    ``usage`` indexes ``SPLITS``."""
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.arange(n) % 7 for n in rows_per_split.values()]).astype(np.int8)
    usage = np.repeat([SPLITS.index(s) for s in rows_per_split], list(rows_per_split.values()))
    # Float means: 30 * label in int8 wraps past 127 and turns the brightest classes into
    # black, identical faces (copies, which the validation split keeps out).
    means = 30.0 + 30.0 * labels[:, None, None]
    images = np.clip(rng.normal(means, 20, (len(labels), 48, 48)), 0, 255).astype(np.uint8)
    return images, labels, usage.astype(np.uint8)


def write_npz(path: Path, rows_per_split: dict[str, int]) -> Path:
    """The project's npz layout (no FER+ votes), as ``scripts/ferdata.py`` reads it."""
    images, labels, usage = faces(rows_per_split)
    np.savez(path, images=images, labels=labels, usage=usage, usage_names=np.array(SPLITS),
             ferplus_votes=np.zeros((len(labels), 10), np.int8))
    return path


def write_kaggle_csv(path: Path, rows_per_split: dict[str, int]) -> Path:
    """The same faces as Kaggle's fer2013.csv (emotion, pixels, Usage)."""
    images, labels, usage = faces(rows_per_split)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for image, label, use in zip(images, labels, usage, strict=True):
            writer.writerow([int(label), " ".join(map(str, image.ravel())), SPLITS[use]])
    return path
