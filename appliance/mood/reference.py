"""Fixed synthetic 48x48 inputs whose int8 outputs ``models/emotion.json`` records.

The export script stores the model's outputs for these images under ``reference``; tests and
``moodbox doctor`` rebuild them with plain numpy and check that the installed runtime gives
answers within a measured tolerance, with the same top class wherever it leads clearly
(``reference_problem``), so a broken runtime or a swapped model file shows up as a mismatch.
They are drawn by formula, never from face data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def reference_faces() -> np.ndarray:
    """Twelve uint8 images (12, 48, 48): four gradients, a centred blob, a checkerboard, then
    the blob inverted, horizontal and vertical stripes, a fine checkerboard, a radial gradient
    and a bar. The last six were added for emotion model v2, on which several of the first
    six are near ties: they were picked among a dozen patterns as ones both shipped networks
    read decisively, so the same-top-class check pins something."""
    r, c = np.indices((48, 48)).astype(np.float64)
    blob = 255 * np.exp(-((r - 23.5) ** 2 + (c - 23.5) ** 2) / (2 * 12.0**2))
    checker = 255 * (((r // 6) + (c // 6)) % 2)
    images = [(r + c) * 255 / 94, (r + 47 - c) * 255 / 94, c * 255 / 47, r * 255 / 47, blob,
              checker, 255 - blob, 255 * ((r // 4) % 2), 255 * ((c // 4) % 2),
              255 * (((r // 3) + (c // 3)) % 2), np.hypot(r - 23.5, c - 23.5) * 255 / 33.3,
              255.0 * ((r > 30) & (r < 36) & (c > 12) & (c < 36))]
    return np.stack([np.floor(np.clip(img, 0, 255)) for img in images]).astype(np.uint8)


#: Steps (int8 output units) a runtime may differ from the recorded answers when a contract
#: names no ``reference.tolerance_steps``: the largest difference measured across runtimes,
#: kernels and CPUs on the reference images was 2 (models/emotion.json, ``measured``).
DEFAULT_TOLERANCE_STEPS = 3


def recorded_reference(contract: Path) -> tuple[np.ndarray, int] | None:
    """The int8 answers a model's contract (its ``emotion.json``) records for
    ``reference_faces()`` and the steps a runtime may differ by, or None when it records none.

    Raises:
        OSError: the contract cannot be read.
        ValueError: it is not JSON, or its ``reference`` block is not answers and a tolerance
            in whole numbers (the message names the file in both cases).
    """
    text = contract.read_text(encoding="utf-8")
    try:
        block = json.loads(text).get("reference", {})
        if block.get("int8_outputs") is None:
            return None
        tolerance = int(block.get("tolerance_steps", DEFAULT_TOLERANCE_STEPS))
        outputs = np.array(block["int8_outputs"], np.int64)
        # Checked here because numpy < 2 (Bookworm's) wraps an out-of-range int16 silently.
        limits = np.iinfo(np.int16)
        if outputs.size and not limits.min <= outputs.min() <= outputs.max() <= limits.max:
            raise ValueError("an answer lies beyond int16")
        return outputs.astype(np.int16), tolerance
    except json.JSONDecodeError as exc:
        raise ValueError(f"{contract}: not JSON ({exc}); export the model again") from exc
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{contract}: reference must hold int8_outputs, rows of whole "
                         f"numbers, and tolerance_steps; export the model again ({exc})") from exc


def reference_problem(got: np.ndarray, want: np.ndarray,
                      tolerance: int = DEFAULT_TOLERANCE_STEPS) -> tuple[str, int]:
    """Compare a runtime's int8 answers on ``reference_faces()`` with the recorded ones.

    Runtimes do not agree bit for bit (XNNPACK requantizes in float; ai-edge-litert's
    built-in kernels on aarch64 round differently from x86), so every output must lie within
    ``tolerance`` steps, and each image whose recorded top class wins by more than twice the
    tolerance (``decisive``) must keep it; on a closer call a runtime within the tolerance
    may rightly tip it the other way.

    Returns:
        ``(problem, largest difference)``: ``problem`` is ``""`` when the answers pass.
    """
    got, want = np.asarray(got, np.int16), np.asarray(want, np.int16)
    if got.shape != want.shape:
        return f"{got.shape} outputs where {want.shape} were recorded", -1
    diff = int(np.abs(got - want).max())
    changed = int(((got.argmax(1) != want.argmax(1)) & decisive(want, tolerance)).sum())
    if changed:
        return f"the top class differs on {changed} of {len(want)} images", diff
    if diff > tolerance:
        return f"outputs differ by up to {diff} steps ({tolerance} allowed)", diff
    return "", diff


def decisive(want: np.ndarray, tolerance: int = DEFAULT_TOLERANCE_STEPS) -> np.ndarray:
    """Per image, whether its recorded top class wins by more than ``2 * tolerance`` steps,
    so that no runtime within the tolerance can change it."""
    top2 = np.sort(np.asarray(want, np.int16), axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0] > 2 * tolerance)
