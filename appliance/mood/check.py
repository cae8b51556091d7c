"""One mood check: camera on, a burst of frames, camera off, then faces read and combined.

The stages are small and separately testable: capture (``MoodChecker._capture_burst``, the
frames spread over ``burst_s``), detect (``faces``), follow and choose the listener and skip
unusable crops (``listener``, driven by ``reader``), crop (``crop``), classify
(``classifier``), aggregate (``aggregate``). The camera and the LED are on only while frames
are taken; all computing happens after the camera is closed again. Frames stay in memory
unless ``debug_dir`` names a folder.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import cv2
import numpy as np

from appliance.errors import ApplianceError, CameraUnavailable, ConfigError
from appliance.hw.camera import Camera
from appliance.hw.led import StatusLed
from appliance.hw.sources import open_camera, parse_size
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.crop import crop_face
from appliance.mood.listener import Gates
from appliance.mood.reader import NUM_THREADS, FaceReader, Listening, read_listener
from appliance.mood.reading import MoodReading

__all__ = ["NUM_THREADS", "BurstClock", "FaceReader", "Listening", "MoodChecker",
           "SystemBurstClock", "read_listener"]

if TYPE_CHECKING:
    from appliance.config import Config

log = logging.getLogger(__name__)
T = TypeVar("T")


def _size(text: str) -> tuple[int, int] | None:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from exc


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _camera_call(call: Callable[[], T]) -> T:
    """``call()``, with a back-end error that its adapter did not translate made one."""
    try:
        return call()
    except ApplianceError:
        raise
    except Exception as exc:
        raise CameraUnavailable(f"camera failed during a check: {exc!r}") from exc


class BurstClock(Protocol):
    """The time a burst is spread over (``FakeClock`` in ``appliance.hw.fake`` for tests)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def sleep(self, seconds: float) -> None:
        """Waits ``seconds``."""


class SystemBurstClock:
    """``time.monotonic`` and ``time.sleep``."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)


class MoodChecker:
    """Runs mood checks; build once, call ``check()`` for each, ``close()`` at the end.

    Args:
        camera: the camera (closed; it is opened only inside ``check()``).
        reader: the models.
        frames: frames per burst.
        min_confidence: below this the reading is ``UNSURE``.
        led: the camera/status LED (lit exactly while the camera is open), or None.
        debug_dir: folder to write each check's frames and crops to; None = never.
        burst_s: the frames are spread evenly over this many seconds (first to last).
        clock: the burst's clock (injectable for tests).
        gates: when a crop is skipped.
        circumplex: valence and arousal per emotion (``config.mood.circumplex``), or None.
    """

    def __init__(
        self, camera: Camera, reader: FaceReader, *, frames: int = 5,
        min_confidence: float = 0.40, led: StatusLed | None = None,
        debug_dir: Path | None = None, burst_s: float = 0.0,
        clock: BurstClock | None = None, gates: Gates | None = None,
        circumplex: Mapping[str, Any] | None = None,
    ) -> None:
        self.camera = camera
        self.reader = reader
        self.frames = frames
        self.min_confidence = min_confidence
        self.led = led or StatusLed(-1)
        self.debug_dir = debug_dir
        self.burst_s = burst_s
        self.clock = clock or SystemBurstClock()
        self.gates = gates or Gates()
        self.circumplex = circumplex
        self._owns_led = led is None

    @classmethod
    def from_config(
        cls, config: Config, camera: Camera | None = None, led: StatusLed | None = None,
        clock: BurstClock | None = None,
    ) -> MoodChecker:
        """A checker as ``config`` says; the models are loaded now.

        Args:
            config: the effective configuration.
            camera: a camera to use instead of ``camera.source`` (e.g. a ``FakeCamera``).
            led: a shared LED to use instead of one made from ``camera.led_pin``.
            clock: the burst's clock (default: the system's).

        Raises:
            ModelError: a model is missing or does not match its contract.
            ConfigError: the camera source, size or LED pin cannot be used.
        """
        reader = FaceReader.from_config(config)
        cam, mood = config.camera, config.mood
        camera = camera or open_camera(cam.source, warmup_s=cam.warmup_s,
                                       size=_size(cam.size), timeout_s=cam.timeout_s)
        made_led = led is None
        if led is None:  # last: nothing after it can fail and leave the pin held
            led = StatusLed(cam.led_pin, config.gpio.pin_factory)
        gates = Gates(mood.min_face_px, mood.min_sharpness, mood.max_turn)
        checker = cls(
            camera, reader, frames=cam.frames, min_confidence=mood.min_confidence,
            led=led, debug_dir=cam.debug_dir, burst_s=cam.burst_s, clock=clock, gates=gates,
            circumplex=mood.circumplex,
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
        seen = read_listener(self.reader, frames, self.gates)
        reading = aggregate(seen.readings, len(frames), self.min_confidence,
                            circumplex=self.circumplex, people=seen.people,
                            frame_faces=seen.frame_faces, skipped=seen.skipped)
        log.info(
            "mood %s (confidence %.2f, valence %s, arousal %s): %d person(s), listener's "
            "face in %d of %d frame(s), %d skipped%s (%.0f ms)", reading.emotion,
            reading.confidence, _num(reading.valence), _num(reading.arousal), reading.faces,
            reading.used + len(reading.skipped), reading.frames, len(reading.skipped),
            f" ({'; '.join(reading.skipped)})" if reading.skipped else "",
            (time.perf_counter() - started) * 1000,
        )
        if self.debug_dir is not None:
            self._write_debug(frames, seen.readings, reading)
        return reading

    def _capture_burst(self, on_camera: Callable[[bool], None] | None) -> list[np.ndarray]:
        announced = False
        self.led.on()  # lit before the sensor starts and until after it stops
        try:
            _camera_call(self.camera.open)
            announced = True
            if on_camera is not None:
                on_camera(True)
            return self._spread_frames()
        finally:
            try:
                self.camera.close()
            finally:
                self.led.off()
                if announced and on_camera is not None:
                    on_camera(False)

    def _spread_frames(self) -> list[np.ndarray]:
        """``frames`` captures, the k-th at ``k * burst_s / (frames - 1)`` after the first:
        five frames back to back are one expression five times."""
        step = self.burst_s / (self.frames - 1) if self.frames > 1 else 0.0
        start = self.clock.monotonic()
        frames = []
        for k in range(self.frames):
            wait = start + k * step - self.clock.monotonic()
            if wait > 0:
                self.clock.sleep(wait)
            frames.append(_camera_call(self.camera.capture))
        return frames

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
        """Closes the camera (and releases it for good where the back-end keeps it between
        checks) and the LED if this checker made it."""
        self.camera.close()
        release = getattr(self.camera, "release", None)
        if callable(release):
            release()
        if self._owns_led:
            self.led.close()

    def __enter__(self) -> MoodChecker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
