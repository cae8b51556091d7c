"""The models' side of a mood check: detect, follow, crop and classify, and read the listener.

``FaceReader`` holds both models (built once) and does one frame's work; ``read_listener``
turns a burst's frames into the listener's usable readings and the counts around them. No
camera and no clock here: ``appliance.mood.check`` captures the frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from appliance.errors import ApplianceError, ModelError
from appliance.mood.aggregate import FaceReading
from appliance.mood.classifier import EmotionClassifier
from appliance.mood.crop import crop_face
from appliance.mood.faces import Face, FaceDetector
from appliance.mood.listener import Gates, choose_listener, crop_problem, track_people

if TYPE_CHECKING:
    from appliance.config import Config

T = TypeVar("T")

#: Interpreter threads for both models. One: the box has other work (audio), a frame's
#: detect + classify takes a few ms, and more threads bought nothing measurable here.
NUM_THREADS = 1


def detector_from_config(config: Config) -> FaceDetector:
    """The face detector as ``config.mood`` sets it (the check and the doctor use the same
    one); raises ``ModelError``."""
    mood = config.mood
    return FaceDetector(min_score=mood.min_face_score, num_threads=NUM_THREADS,
                        model=mood.detector, tiles=mood.detect_tiles,
                        candidate_score=mood.min_candidate_score,
                        confirm_score=mood.min_confirm_score,
                        refind_score=mood.min_refind_score,
                        early_exit=mood.detect_early_exit, mirror=mood.detect_mirror,
                        near_score=mood.min_near_score,
                        second_score=(mood.min_second_look_score
                                      if mood.min_second_look_score < 1 else None))


class FaceReader:
    """Detect, crop and classify the faces of one frame.

    Args:
        detector: the face detector.
        classifier: the emotion classifier; its contract gives the crop geometry.
    """

    def __init__(self, detector: FaceDetector, classifier: EmotionClassifier) -> None:
        self.detector = detector
        self.classifier = classifier

    @classmethod
    def from_config(cls, config: Config) -> FaceReader:
        """Both models as ``config.mood`` says; raises ``ModelError``."""
        classifier = EmotionClassifier(config.mood.model, num_threads=NUM_THREADS)
        return cls(detector_from_config(config), classifier)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """The faces of a BGR uint8 frame; raises ``ModelError``."""
        return _model_call(frame, lambda: self.detector.detect(frame))

    def follow(self, frame: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """``faces`` of the previous frame found again near where they were; raises
        ``ModelError``."""
        return _model_call(frame, lambda: self.detector.follow(frame, faces))

    def detect_burst(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces of every frame: a whole (tiled) detection, then each person followed on a
        window around them (a fraction of the cost), so a 5-frame check pays for about one
        full-view detection; a frame where no one is found again is searched whole."""
        detections: list[list[Face]] = []
        for frame in frames:
            seen = detections[-1] if detections else []
            found = self.follow(frame, seen) if seen else []
            detections.append(found or self.detect(frame))
        return detections

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The face's grey crop, cut from the full-resolution frame."""
        return crop_face(frame, face, self.classifier.contract.crop)

    def classify(self, crop: np.ndarray, face: Face, index: int = 0) -> FaceReading:
        """One crop's probabilities; raises ``ModelError``."""
        probs = _model_call(crop, lambda: self.classifier.classify(crop))
        return FaceReading(face, tuple(map(float, probs)), self.classifier.labels, index)

    def read(self, frame: np.ndarray, index: int = 0) -> list[FaceReading]:
        """Every face of a BGR uint8 frame with its probabilities.

        Raises:
            ModelError: a model failed at run time.
        """
        return [self.classify(self.crop(frame, f), f, index) for f in self.detect(frame)]


def _model_call(data: np.ndarray, call: Callable[[], T]) -> T:
    try:
        return call()
    except (RuntimeError, ValueError) as exc:
        if isinstance(exc, ApplianceError):
            raise
        raise ModelError(f"mood model failed on a {data.shape} image: {exc}") from exc


@dataclass(frozen=True)
class Listening:
    """What a burst showed: the listener's usable readings and the counts around them."""

    readings: list[FaceReading]
    people: int
    frame_faces: int
    skipped: tuple[str, ...]
    listener: int | None
    tracks: list[list[tuple[int, Face]]]


def read_listener(reader: FaceReader, frames: Sequence[np.ndarray], gates: Gates,
                  detections: Sequence[Sequence[Face]] | None = None) -> Listening:
    """Detect in every frame (unless ``detections`` are given), follow the people, and
    classify only the listener's usable crops (the others' faces are counted, never read)."""
    if detections is None:
        detections = reader.detect_burst(frames)
    tracks = track_people(detections)
    height, width = frames[0].shape[:2] if frames else (0, 0)
    listener = choose_listener(tracks, (width, height))
    readings, skipped = [], []
    for index, face in tracks[listener] if listener is not None else []:
        crop = reader.crop(frames[index], face)
        problem = crop_problem(face, crop, gates)
        if problem:
            skipped.append(f"frame {index}: {problem}")
        else:
            readings.append(reader.classify(crop, face, index))
    frame_faces = sum(len(d) for d in detections)
    return Listening(readings, len(tracks), frame_faces, tuple(skipped), listener, tracks)
