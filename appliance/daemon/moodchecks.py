"""The daemon's side of a mood check.

``ThreadCheckRunner`` loads the checker once and runs each check on a worker thread named
"mood-check", so that the loop keeps serving VLC, the button, signals and the watchdog while
the camera works. The worker only posts events (``CameraSwitched``, then ``CheckDone``); it
never touches the session. ``MoodChecks`` runs on the loop: it reports what those events say
(state file, events, LED), and turns every failure into an error event and a ``None`` reading,
so that the music always plays on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.daemon.ports import CameraSwitched, CheckDone, CheckRunner, Clock
from appliance.daemon.report import Reporter
from appliance.errors import ApplianceError, CameraUnavailable
from appliance.hw.led import StatusLed
from appliance.mood.reading import MoodReading

if TYPE_CHECKING:
    from appliance.mood.check import MoodChecker

log = logging.getLogger(__name__)

#: Failed mood checks in a row before the LED asks for a person (camera unplugged?).
CAMERA_FAULTS = 3
#: How long ``close()`` waits for a running check before leaving it to the process's end.
CLOSE_WAIT_S = 0.5


class _Cancelled(Exception):
    """Raised inside a cancelled check as soon as its camera is open, to end it early."""


class ThreadCheckRunner:
    """Runs ``MoodChecker.check()`` on a worker thread, one check at a time.

    Args:
        config: the effective configuration.
        led: the shared status LED (the checker lights it while the camera is open).
        post: the loop's ``post``; the only thing the worker calls.
    """

    def __init__(self, config: Config, led: StatusLed, post: Callable[[object], None]) -> None:
        self.config, self.led, self.post = config, led, post
        self.checker: MoodChecker | None = None
        self.fault = "mood check not loaded"
        self._thread: threading.Thread | None = None
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()

    def load(self) -> str:
        """Load the models and open nothing yet; returns ``""`` or why checks cannot run."""
        from appliance.mood.check import MoodChecker  # heavy (OpenCV, TFLite): once, here

        try:
            self.checker = MoodChecker.from_config(self.config, led=self.led)
        except Exception as exc:  # whatever breaks the models, the music must still play
            if not isinstance(exc, ApplianceError):
                log.exception("cannot load the mood check")
            self.fault = f"mood check unavailable: {exc}"
        else:
            self.fault = ""
        return self.fault

    @property
    def available(self) -> str:
        """``""`` when checks can run, else why not."""
        return self.fault

    @property
    def busy(self) -> bool:
        """True while a check's thread still runs (even a cancelled one)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, check: int, token: int) -> None:
        """Begin check ``check`` on a new worker thread."""
        self._thread = threading.Thread(target=self._run, args=(check, token),
                                        name="mood-check", daemon=True)
        self._thread.start()

    def cancel(self, check: int) -> None:
        """The check ends at its next chance (once its camera is open); its result is
        still posted, and the session drops it."""
        with self._lock:
            self._cancelled.add(check)

    def _run(self, check: int, token: int) -> None:
        checker = self.checker
        assert checker is not None

        def on_camera(on: bool) -> None:
            self.post(CameraSwitched(check, on))
            with self._lock:
                if on and check in self._cancelled:
                    raise _Cancelled

        try:
            reading = checker.check(on_camera=on_camera)
        except _Cancelled:
            self.post(CheckDone(check, token, None, "cancelled", "mood"))
        except ApplianceError as exc:
            component = "camera" if isinstance(exc, CameraUnavailable) else "model"
            self.post(CheckDone(check, token, None, str(exc), component))
        except Exception as exc:  # an unforeseen bug in a check must not stop the music
            log.exception("mood check failed")
            self.post(CheckDone(check, token, None, repr(exc), "mood"))
        else:
            self.post(CheckDone(check, token, reading))
        finally:
            with self._lock:
                self._cancelled.discard(check)

    def close(self) -> None:
        """Release the camera and the models; a check still running after ``CLOSE_WAIT_S``
        is left to end with the process (its thread is a daemon thread). Idempotent."""
        thread = self._thread
        if thread is not None:
            thread.join(CLOSE_WAIT_S)
            if thread.is_alive():
                log.warning("a mood check is still running; leaving it to the exit")
                return
        checker, self.checker = self.checker, None
        if checker is not None:
            checker.close()


class MoodChecks:
    """The loop's side: reports the camera, readings and failures of checks.

    Args:
        report: where events, state and the LED pattern go.
        runner: where checks run.
        clock: for the time of a reading in the state file.
    """

    def __init__(self, report: Reporter, runner: CheckRunner, clock: Clock) -> None:
        self.report, self.runner, self.clock = report, runner, clock
        self.failures = 0  # failed checks in a row

    @property
    def fault(self) -> str:
        """Why checks cannot run at all (needs a person), or ``""``."""
        return self.runner.available

    @property
    def led_pattern(self) -> str:
        """The LED pattern while music plays: fast blink when checks need a person."""
        return "fast" if self.fault or self.failures >= CAMERA_FAULTS else "off"

    def unavailable(self) -> str:
        """Why a check cannot start now, or ``""``."""
        if self.fault:
            return self.fault
        if self.runner.busy:
            return "the camera is still busy with an earlier check"
        return ""

    def begin(self, check: int, token: int) -> None:
        """Start check ``check``; the runner lights the LED while the camera is on."""
        self.report.lend_led()
        self.runner.start(check, token)

    def camera(self, event: CameraSwitched) -> None:
        """Record that the camera went on or off."""
        self.report.state.update(camera="on" if event.on else "off")
        self.report.refresh()
        self.report.events.emit("camera_on" if event.on else "camera_off", check=event.check)

    def finished(self, done: CheckDone, used: bool) -> MoodReading | None:
        """Report a finished check (``used``: the session still wanted it); its reading."""
        self.report.return_led(self.led_pattern)
        if not used:
            return None
        if done.reading is None:
            self.failures += 1
            self.report.show(self.led_pattern)
            self.report.events.emit("error", component=done.component, message=done.error)
            return None
        reading = done.reading
        self.failures = 0
        self.report.show(self.led_pattern)
        self.report.state.update(last_mood={
            "emotion": reading.emotion, "confidence": round(reading.confidence, 3),
            "faces": reading.faces, "at": round(self.clock.time(), 3)})
        self.report.refresh()
        self.report.events.emit("mood", emotion=reading.emotion, confidence=reading.confidence,
                                faces=reading.faces, probabilities=dict(reading.probabilities))
        return reading
