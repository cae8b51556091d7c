"""Fixed synthetic 48x48 inputs whose int8 outputs ``models/emotion.json`` records.

The export script stores the model's outputs for these images under ``reference``; tests and
``moodbox doctor`` rebuild them with plain numpy and check that the installed runtime gives
the same answer (within one quantisation step), so a broken runtime or a swapped model file
shows up as a mismatch. They are drawn by formula, never from face data.
"""

from __future__ import annotations

import numpy as np


def reference_faces() -> np.ndarray:
    """Six uint8 images (6, 48, 48): four gradients, a centred blob and a checkerboard."""
    r, c = np.indices((48, 48)).astype(np.float64)
    blob = 255 * np.exp(-((r - 23.5) ** 2 + (c - 23.5) ** 2) / (2 * 12.0**2))
    checker = 255 * (((r // 6) + (c // 6)) % 2)
    images = [(r + c) * 255 / 94, (r + 47 - c) * 255 / 94, c * 255 / 47, r * 255 / 47, blob,
              checker]
    return np.stack([np.floor(img) for img in images]).astype(np.uint8)
