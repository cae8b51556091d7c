"""Training batches for ``scripts/train.py``: shuffled faces with augmentation in plain numpy
and OpenCV (no backend-specific ops), camera degradation, random erasing and mixup."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import degrade


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flip, rotation (±10°), zoom (±10%), shift (±10%), brightness and contrast."""
    out = np.empty(images.shape, dtype=np.float32)
    for i, img in enumerate(images):
        angle = rng.uniform(-10, 10)
        scale = rng.uniform(0.9, 1.1)
        matrix = cv2.getRotationMatrix2D((24, 24), angle, scale)
        matrix[:, 2] = matrix[:, 2] + rng.uniform(-4.8, 4.8, size=2)
        warped = cv2.warpAffine(img, matrix, (48, 48), borderMode=cv2.BORDER_REFLECT_101)
        if rng.random() < 0.5:
            warped = warped[:, ::-1]
        face = warped.astype(np.float32)
        mean = face.mean()
        face = (face - mean) * rng.uniform(0.8, 1.2) + mean + rng.uniform(-25, 25)
        out[i] = face
    return np.clip(out, 0, 255)


def erase(faces: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Random erasing: with probability ``share`` a face gets a rectangle of 2-25% of its
    area, of aspect 0.3-3.3, filled with noise, so that no single region (a mouth hidden by
    a hand, a shadow) can carry the whole reading. Changes ``faces`` (float) in place."""
    for i in np.flatnonzero(rng.random(len(faces)) < share):
        area = rng.uniform(0.02, 0.25) * 48 * 48
        aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
        h = min(48, max(1, round(math.sqrt(area * aspect))))
        w = min(48, max(1, round(math.sqrt(area / aspect))))
        y, x = rng.integers(0, 49 - h), rng.integers(0, 49 - w)
        faces[i, y:y + h, x:x + w] = rng.uniform(0, 255, (h, w))
    return faces


def mixup(arrays: tuple[np.ndarray, ...], alpha: float,
          rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Mixes a batch (faces, targets and weights alike) with a shuffled copy of itself."""
    share = rng.beta(alpha, alpha)
    order = rng.permutation(len(arrays[0]))
    return tuple((share * a + (1 - share) * a[order]).astype(np.float32) for a in arrays)


class FaceBatches(keras.utils.PyDataset):
    """Shuffled, optionally augmented batches of (faces in [0, 1], targets, weights).

    Each epoch's order comes from a generator seeded by ``(seed, epoch)`` and each batch's
    draws from one seeded by ``(seed, epoch, index)``: a run resumed at ``epoch`` sees what an
    uninterrupted run would have (with one generator per process it replayed the first
    epoch's draws), and batches made by ``workers`` threads in any order are the same.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
                 batch: int, seed: int, train: bool, degrade_share: float = 0.0,
                 epoch: int = 0, erase_share: float = 0.0, mixup_alpha: float = 0.0,
                 workers: int = 1) -> None:
        super().__init__(workers=workers)
        self.images, self.targets, self.weights = images, targets, weights
        self.batch, self.train, self.degrade_share = batch, train, degrade_share
        self.erase_share, self.mixup_alpha = erase_share, mixup_alpha
        self.seed, self.epoch = seed, epoch
        self._draw()

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        rows = self.order[index * self.batch:(index + 1) * self.batch]
        faces = self.images[rows]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.train and self.degrade_share > 0:
            faces = degrade.degrade_some(faces, self.degrade_share, rng)
        faces = augment(faces, rng) if self.train else faces.astype(np.float32)
        if self.train and self.erase_share > 0:
            faces = erase(faces, self.erase_share, rng)
        batch: tuple[np.ndarray, ...] = (faces[..., None] / 255.0, self.targets[rows])
        if self.weights is not None:
            batch = (*batch, self.weights[rows])
        if self.train and self.mixup_alpha > 0:
            batch = mixup(batch, self.mixup_alpha, rng)
        return batch

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._draw()

    def _draw(self) -> None:
        count = len(self.images)
        self.order = (np.random.default_rng([self.seed, self.epoch]).permutation(count)
                      if self.train else np.arange(count))
