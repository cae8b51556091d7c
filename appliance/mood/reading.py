"""The result of one mood check, shared by the mood check, the rules and the daemon."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The classifier's classes, in the model's output order (FER2013's).
LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: ``MoodReading.emotion`` when no face was seen in any frame.
NO_FACE = "no face"
#: ``MoodReading.emotion`` when faces were seen but no class was confident enough.
UNSURE = "unsure"


@dataclass(frozen=True)
class MoodReading:
    """One decision from a burst of frames.

    Attributes:
        emotion: one of ``LABELS``, or ``NO_FACE`` or ``UNSURE``.
        confidence: the averaged probability of the top class (0 when no face).
        probabilities: averaged per-class probabilities in label order (empty when no face).
        faces: distinct people seen over the burst (each followed across frames).
        frames: frames captured.
        frame_faces: face detections over all frames (a person in 5 frames counts 5).
        used: the listener's face crops that were classified.
        skipped: why the listener's other crops were not used, e.g. ``"frame 2: blurred"``.
        valence: -1..1, the probabilities' weighted mean on the circumplex (None: no face).
        arousal: -1..1, likewise.
    """

    emotion: str
    confidence: float
    probabilities: Mapping[str, float] = field(default_factory=dict)
    faces: int = 0
    frames: int = 0
    frame_faces: int = 0
    used: int = 0
    skipped: tuple[str, ...] = ()
    valence: float | None = None
    arousal: float | None = None

    @property
    def decided(self) -> bool:
        """True when the reading names an emotion the rules should act on."""
        return self.emotion in LABELS
