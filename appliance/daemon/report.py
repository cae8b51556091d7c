"""How the daemon tells people what it is doing: the state file, systemd's STATUS= line, the
status LED's pattern, error events that are not repeated while a fault persists, and READY=1
once the daemon is up (playing, or waiting for music or for the sound card)."""

from __future__ import annotations

from appliance.daemon import systemd
from appliance.daemon.events import EventLog
from appliance.daemon.state import StateFile, describe_state
from appliance.hw.led import StatusLed

#: The states in which the daemon counts as up for systemd.
UP_MODES = ("playing", "paused", "waiting_audio", "waiting_library")


class Reporter:
    """One place for the state file, STATUS=, the LED pattern and deduplicated errors.

    Args:
        events: the decision log.
        state: the state file.
        led: the status LED; the daemon has set it blinking slowly while it starts.
    """

    def __init__(self, events: EventLog, state: StateFile, led: StatusLed) -> None:
        self.events, self.state, self.led = events, state, led
        self._pattern = "slow"
        self._lent = False
        self._failing: set[str] = set()
        self.ready_sent = False

    @property
    def mode(self) -> str:
        """The daemon's state as the state file has it ("playing", "waiting_audio", ...)."""
        return str(self.state.data["state"])

    def set_mode(self, mode: str, status: str = "") -> None:
        """Record the state and tell systemd in words (``status`` overrides the summary)."""
        self.state.update(state=mode)
        self.refresh(status)
        if not self.ready_sent and mode in UP_MODES:
            # Up, whatever it waits for: systemd may start what comes after, and the
            # watchdog is armed (READY=1 only after the first track would hang boot).
            self.ready_sent = True
            systemd.ready()
            self.events.emit("ready", state=mode)

    def refresh(self, status: str = "") -> None:
        """Send STATUS= again after other fields of the state changed."""
        systemd.status(status or describe_state(self.state.data))

    def show(self, pattern: str) -> None:
        """Set the LED to "off", "slow" or "fast" blinking, unless it already is (starting
        the same blink again would restart its rhythm)."""
        if self._lent:
            self._pattern = pattern  # applied when the check gives the LED back
            return
        if pattern != self._pattern:
            self._pattern = pattern
            {"off": self.led.off, "slow": self.led.blink_slow, "fast": self.led.blink_fast}[
                pattern]()

    def lend_led(self) -> None:
        """The mood check drives the LED now (lit while the camera is open, then off); until
        ``return_led`` nothing else touches it, so it is lit for all of the camera's time."""
        self._lent = True

    def return_led(self, pattern: str) -> None:
        """The check is over (its camera is closed): show ``pattern`` again."""
        if self._lent:
            self._lent = False
            self._pattern = "lent"
            self.show(pattern)

    def error_once(self, component: str, message: str) -> None:
        """An error event, but not again until ``recovered(component)``."""
        if component not in self._failing:
            self._failing.add(component)
            self.events.emit("error", component=component, message=message)

    def recovered(self, component: str) -> None:
        """``component`` works again: its next failure is reported."""
        self._failing.discard(component)
