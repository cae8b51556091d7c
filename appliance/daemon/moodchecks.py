"""The daemon's side of a mood check: load the checker once, run a check with the camera
reported as it opens and closes, and turn every failure into an error event and a ``None``
reading, so that the music always plays on.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.daemon.report import Reporter
from appliance.errors import ApplianceError, CameraUnavailable
from appliance.mood.reading import MoodReading

if TYPE_CHECKING:
    from appliance.mood.check import MoodChecker

log = logging.getLogger(__name__)

#: Failed mood checks in a row before the LED asks for a person (camera unplugged?).
CAMERA_FAULTS = 3


class MoodChecks:
    """Mood checks for the session.

    Args:
        config: the effective configuration.
        report: where events, state and the LED pattern go.
    """

    def __init__(self, config: Config, report: Reporter) -> None:
        self.config, self.report = config, report
        self.checker: MoodChecker | None = None
        self.fault = ""  # why checks cannot run at all (needs a person)
        self.failures = 0  # failed checks in a row

    def load(self) -> None:
        """Load the models; without them the music plays on, choosing without a reading."""
        from appliance.mood.check import MoodChecker  # heavy (OpenCV, TFLite): once, here

        try:
            self.checker = MoodChecker.from_config(self.config, led=self.report.led)
        except Exception as exc:  # whatever breaks the models, the music must still play
            if not isinstance(exc, ApplianceError):
                log.exception("cannot load the mood check")
            self.fault = f"mood check unavailable: {exc}"
            self.report.events.emit("error", component="model", message=str(exc))

    @property
    def led_pattern(self) -> str:
        """The LED pattern while music plays: fast blink when checks need a person."""
        return "fast" if self.fault or self.failures >= CAMERA_FAULTS else "off"

    def run(self) -> MoodReading | None:
        """One check; None when there is no checker or it failed (reported as an error)."""
        if self.checker is None:
            return None
        self.report.lend_led()
        try:
            reading = self.checker.check(on_camera=self._on_camera)
        except ApplianceError as exc:
            component = "camera" if isinstance(exc, CameraUnavailable) else "model"
            self._failed(component, str(exc))
            return None
        except Exception as exc:  # an unforeseen bug in a check must not stop the music
            log.exception("mood check failed")
            self._failed("mood", repr(exc))
            return None
        self.failures = 0
        self.report.show(self.led_pattern)
        self.report.state.update(last_mood={
            "emotion": reading.emotion, "confidence": round(reading.confidence, 3),
            "faces": reading.faces, "at": round(time.time(), 3)})
        self.report.refresh()
        self.report.events.emit("mood", emotion=reading.emotion, confidence=reading.confidence,
                                faces=reading.faces, probabilities=dict(reading.probabilities))
        return reading

    def _failed(self, component: str, message: str) -> None:
        self.failures += 1
        self.report.show(self.led_pattern)
        self.report.events.emit("error", component=component, message=message)

    def _on_camera(self, on: bool) -> None:
        self.report.state.update(camera="on" if on else "off")
        self.report.refresh()
        self.report.events.emit("camera_on" if on else "camera_off")

    def close(self) -> None:
        """Release the camera and the models; idempotent."""
        checker, self.checker = self.checker, None
        if checker is not None:
            checker.close()
