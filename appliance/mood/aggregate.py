"""Combine the faces of a burst into one ``MoodReading`` (pure functions, no I/O).

The mood check passes only the listener's usable crops (``appliance.mood.listener``); each
counts weighted by its box area, so a sharper, nearer crop weighs more. The weighted mean of
the per-class probabilities decides; if its top class is below ``min_confidence`` the
reading is "unsure", so that one noisy frame or an ambiguous face does not steer the music.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from appliance.mood.circumplex import mood_point
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


def aggregate(
    readings: Sequence[FaceReading], frames: int, min_confidence: float, *,
    circumplex: Mapping[str, Any] | None = None, people: int | None = None,
    frame_faces: int | None = None, skipped: Sequence[str] = (),
) -> MoodReading:
    """The reading of a burst.

    Args:
        readings: the faces to combine (the listener's usable crops).
        frames: frames captured (faces or not).
        min_confidence: top averaged probability below which the result is ``UNSURE``.
        circumplex: valence and arousal per label; None leaves them unset.
        people: distinct people seen (default: ``len(readings)``, as before tracking).
        frame_faces: detections over all frames (default: ``len(readings)``).
        skipped: why crops were left out.

    Returns:
        ``NO_FACE`` with confidence 0 when there is no face; else the size-weighted mean
        probabilities (in ``LABELS`` order) and their top class, or ``UNSURE``.
    """
    counted = partial(
        MoodReading, faces=len(readings) if people is None else people, frames=frames,
        frame_faces=len(readings) if frame_faces is None else frame_faces,
        used=len(readings), skipped=tuple(skipped))
    if not readings:
        return counted(NO_FACE, 0.0, {})
    weights = np.array([max(r.face.area, 1.0) for r in readings], dtype=np.float64)
    table = np.array([[r.as_dict()[label] for label in LABELS] for r in readings])
    mean = weights @ table / weights.sum()
    top = int(np.argmax(mean))
    confidence = float(mean[top])
    emotion = LABELS[top] if confidence >= min_confidence else UNSURE
    probabilities = {label: float(p) for label, p in zip(LABELS, mean, strict=True)}
    point = mood_point(probabilities, circumplex) if circumplex else None
    valence, arousal = point if point else (None, None)
    return counted(emotion, confidence, probabilities, valence=valence, arousal=arousal)
