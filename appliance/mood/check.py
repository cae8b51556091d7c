"""One mood check: camera on, a burst of frames, camera off, then faces read and combined.

The stages are small and separately testable: capture (``MoodChecker._capture_burst``),
detect (``faces``), crop (``crop``), classify (``classifier``), aggregate (``aggregate``).
The camera and the LED are on only while frames are taken; all computing happens after the
camera is closed again. Frames stay in memory unless ``debug_dir`` names a folder.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from appliance.errors import ApplianceError, CameraUnavailable, ModelError
from appliance.hw.camera import Camera
from appliance.hw.led import StatusLed
from appliance.hw.sources import open_camera
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.classifier import EmotionClassifier
from appliance.mood.crop import crop_face
from appliance.mood.faces import FaceDetector
from appliance.mood.reading import MoodReading

if TYPE_CHECKING:
    from appliance.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Interpreter threads for both models. One: the box has other work (audio), a frame's
#: detect + classify takes a few ms, and more threads bought nothing measurable here.
NUM_THREADS = 1


def _camera_call(call: Callable[[], T]) -> T:
    """``call()``, with a back-end error that its adapter did not translate made one."""
    try:
        return call()
    except ApplianceError:
        raise
    except Exception as exc:
        raise CameraUnavailable(f"camera failed during a check: {exc!r}") from exc


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
        detector = FaceDetector(min_score=config.mood.min_face_score, num_threads=NUM_THREADS)
        classifier = EmotionClassifier(config.mood.model, num_threads=NUM_THREADS)
        return cls(detector, classifier)

    def read(self, frame: np.ndarray, index: int = 0) -> list[FaceReading]:
        """Every face of a BGR uint8 frame with its probabilities.

        Raises:
            ModelError: a model failed at run time.
        """
        try:
            faces = self.detector.detect(frame)
            spec, labels = self.classifier.contract.crop, self.classifier.labels
            return [
                FaceReading(face, tuple(map(float, self.classifier.classify(
                    crop_face(frame, face, spec)))), labels, index)
                for face in faces
            ]
        except (RuntimeError, ValueError) as exc:
            if isinstance(exc, ApplianceError):
                raise
            raise ModelError(f"mood model failed on a {frame.shape} frame: {exc}") from exc


class MoodChecker:
    """Runs mood checks; build once, call ``check()`` for each, ``close()`` at the end.

    Args:
        camera: the camera (closed; it is opened only inside ``check()``).
        reader: the models.
        frames: frames per burst.
        min_confidence: below this the reading is ``UNSURE``.
        led: the camera/status LED (lit exactly while the camera is open), or None.
        debug_dir: folder to write each check's frames and crops to; None = never.
    """

    def __init__(
        self, camera: Camera, reader: FaceReader, *, frames: int = 5,
        min_confidence: float = 0.40, led: StatusLed | None = None,
        debug_dir: Path | None = None,
    ) -> None:
        self.camera = camera
        self.reader = reader
        self.frames = frames
        self.min_confidence = min_confidence
        self.led = led or StatusLed(-1)
        self.debug_dir = debug_dir
        self._owns_led = led is None

    @classmethod
    def from_config(
        cls, config: Config, camera: Camera | None = None, led: StatusLed | None = None
    ) -> MoodChecker:
        """A checker as ``config`` says; the models are loaded now.

        Args:
            config: the effective configuration.
            camera: a camera to use instead of ``camera.source`` (e.g. a ``FakeCamera``).
            led: a shared LED to use instead of one made from ``camera.led_pin``.

        Raises:
            ModelError: a model is missing or does not match its contract.
            ConfigError: the camera source or LED pin cannot be used.
        """
        reader = FaceReader.from_config(config)
        cam = config.camera
        camera = camera or open_camera(cam.source, warmup_s=cam.warmup_s)
        made_led = led is None
        if led is None:  # last: nothing after it can fail and leave the pin held
            led = StatusLed(cam.led_pin, config.gpio.pin_factory)
        checker = cls(
            camera, reader, frames=cam.frames, min_confidence=config.mood.min_confidence,
            led=led, debug_dir=cam.debug_dir,
        )
        checker._owns_led = made_led
        return checker

    def check(self, on_camera: Callable[[bool], None] | None = None) -> MoodReading:
        """One mood check.

        Args:
            on_camera: called with True once the camera is open and with False once it is
                closed again (also after an error).

        Raises:
            CameraUnavailable: the camera could not be opened or stopped giving frames.
            ModelError: a model failed.
        """
        frames = self._capture_burst(on_camera)
        started = time.perf_counter()
        readings = [r for i, frame in enumerate(frames) for r in self.reader.read(frame, i)]
        reading = aggregate(readings, len(frames), self.min_confidence)
        log.info(
            "mood %s (confidence %.2f, %d face(s) in %d frame(s), %.0f ms)", reading.emotion,
            reading.confidence, reading.faces, reading.frames,
            (time.perf_counter() - started) * 1000,
        )
        if self.debug_dir is not None:
            self._write_debug(frames, readings, reading)
        return reading

    def _capture_burst(self, on_camera: Callable[[bool], None] | None) -> list[np.ndarray]:
        announced = False
        self.led.on()  # lit before the sensor starts and until after it stops
        try:
            _camera_call(self.camera.open)
            announced = True
            if on_camera is not None:
                on_camera(True)
            return [_camera_call(self.camera.capture) for _ in range(self.frames)]
        finally:
            try:
                self.camera.close()
            finally:
                self.led.off()
                if announced and on_camera is not None:
                    on_camera(False)

    def _write_debug(
        self, frames: list[np.ndarray], readings: list[FaceReading], reading: MoodReading
    ) -> None:
        assert self.debug_dir is not None
        now = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        folder = self.debug_dir / f"{stamp}-{int(now * 1000) % 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(folder / f"frame{i}.png"), frame)
        spec = self.reader.classifier.contract.crop
        for k, r in enumerate(readings):
            crop = crop_face(frames[r.frame], r.face, spec)
            cv2.imwrite(str(folder / f"frame{r.frame}-face{k}-{r.emotion}.png"), crop)
        summary = {"emotion": reading.emotion, "confidence": reading.confidence,
                   "probabilities": dict(reading.probabilities),
                   "faces": [{"frame": r.frame, "box": list(r.face.box), "score": r.face.score,
                              "probabilities": r.as_dict()} for r in readings]}
        (folder / "reading.json").write_text(json.dumps(summary, indent=2))
        log.info("debug: wrote %d frame(s) and %d crop(s) to %s", len(frames), len(readings),
                 folder)

    def close(self) -> None:
        """Closes the camera (if a check left it open) and the LED if this checker made it."""
        self.camera.close()
        if self._owns_led:
            self.led.close()

    def __enter__(self) -> MoodChecker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
