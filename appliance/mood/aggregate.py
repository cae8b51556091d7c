"""Combine the faces of a burst into one ``MoodReading`` (pure functions, no I/O).

Every face seen in any frame counts, weighted by its box area: the nearest (largest) face is
most likely the listener and its crop is the sharpest. The weighted mean of the per-class
probabilities decides; if its top class is below ``min_confidence`` the reading is "unsure",
so that one noisy frame or an ambiguous face does not steer the music.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from appliance.mood.faces import Face
from appliance.mood.reading import LABELS, NO_FACE, UNSURE, MoodReading


@dataclass(frozen=True)
class FaceReading:
    """One face of one frame and its class probabilities.

    Attributes:
        face: the detection.
        probabilities: per-class probabilities in the order of ``labels``.
        labels: class names (the model's order).
        frame: index of the frame in the burst.
    """

    face: Face
    probabilities: tuple[float, ...]
    labels: tuple[str, ...]
    frame: int = 0

    @property
    def emotion(self) -> str:
        """The face's own top class."""
        return self.labels[int(np.argmax(self.probabilities))]

    def as_dict(self) -> dict[str, float]:
        """Probabilities by label, in ``LABELS`` order."""
        named = dict(zip(self.labels, self.probabilities, strict=True))
        return {label: float(named.get(label, 0.0)) for label in LABELS}


def aggregate(readings: Sequence[FaceReading], frames: int, min_confidence: float) -> MoodReading:
    """The reading of a burst.

    Args:
        readings: every face of every frame.
        frames: frames captured (faces or not).
        min_confidence: top averaged probability below which the result is ``UNSURE``.

    Returns:
        ``NO_FACE`` with confidence 0 when there is no face; else the size-weighted mean
        probabilities (in ``LABELS`` order) and their top class, or ``UNSURE``.
    """
    if not readings:
        return MoodReading(NO_FACE, 0.0, {}, faces=0, frames=frames)
    weights = np.array([max(r.face.area, 1.0) for r in readings], dtype=np.float64)
    table = np.array([[r.as_dict()[label] for label in LABELS] for r in readings])
    mean = weights @ table / weights.sum()
    top = int(np.argmax(mean))
    confidence = float(mean[top])
    emotion = LABELS[top] if confidence >= min_confidence else UNSURE
    probabilities = {label: float(p) for label, p in zip(LABELS, mean, strict=True)}
    return MoodReading(emotion, confidence, probabilities, faces=len(readings), frames=frames)
