"""The one button (GPIO17 to ground by default): a press asks for a mood check now, a hold
pauses or resumes.

A hold starts as a press, so the press is only reported when the button comes back up before
``hold_s``; a hold is reported once ``hold_s`` has passed, and its release is then ignored.
gpiozero calls these handlers on its own threads; the callbacks given must only enqueue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from appliance.errors import ConfigError
from appliance.hw.led import gpio_errors, pin_factory

log = logging.getLogger(__name__)

#: Contact bounce of a cheap tactile switch settles well within this (seconds).
BOUNCE_S = 0.05


class MoodButton:
    """The button on BCM ``pin``; pin -1 means no button.

    Args:
        pin: BCM pin number (the button connects it to ground), or -1.
        hold_s: seconds held down that count as a hold.
        on_press: called after a short press; must only enqueue.
        on_hold: called once a hold has lasted ``hold_s``; must only enqueue.
        factory: gpiozero pin factory name (config ``gpio.pin_factory``); ``""`` = default.

    Raises:
        ConfigError: gpiozero cannot use the pin (e.g. no pin factory off a Pi).
    """

    def __init__(self, pin: int, hold_s: float, on_press: Callable[[], None],
                 on_hold: Callable[[], None], factory: str = "") -> None:
        self._on_press, self._on_hold = on_press, on_hold
        self._held = False
        self._lock = threading.Lock()
        self._button: Any = None
        if pin < 0:
            return
        from gpiozero import Button

        try:
            self._button = Button(pin, pull_up=True, hold_time=hold_s, bounce_time=BOUNCE_S,
                                  pin_factory=pin_factory(factory))
        except gpio_errors() as exc:  # lgpio.error too: a busy pin is a config problem
            raise ConfigError([
                f"gpio.button_pin = {pin}: gpiozero cannot use it ({type(exc).__name__}: "
                f"{exc}); is another program using the pin? gpio.button_pin = -1 runs "
                "without the button"
            ]) from exc
        self._button.when_pressed = self._pressed
        self._button.when_held = self._held_down
        self._button.when_released = self._released

    @property
    def pin(self) -> Any:
        """The gpiozero pin (a ``MockPin`` under the mock factory: ``drive_low()`` presses)."""
        return None if self._button is None else self._button.pin

    def _pressed(self) -> None:
        with self._lock:
            self._held = False

    def _held_down(self) -> None:
        with self._lock:
            self._held = True
        self._on_hold()

    def _released(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if not held:
            self._on_press()

    def close(self) -> None:
        """Release the pin; idempotent."""
        button, self._button = self._button, None
        if button is not None:
            button.close()

    def __enter__(self) -> MoodButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
