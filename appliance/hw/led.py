"""The one status LED (GPIO27 by default): camera indicator and status patterns.

It is lit steadily exactly while the camera is open, blinks slowly while the box starts or
waits for audio, and blinks fast on a fault that needs a person. The mood check and the
daemon may each hold a ``StatusLed`` for the same pin: they share one gpiozero ``LED``
(counted references), since gpiozero allows only one device per pin.

Off a Pi, ``GPIOZERO_PIN_FACTORY=mock`` (or config ``gpio.pin_factory = "mock"``) gives
gpiozero's ``MockFactory``, whose pins record their ``states`` history for tests.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

from appliance.errors import ConfigError

log = logging.getLogger(__name__)

_SLOW = (1.0, 1.0)  # seconds on, off
_FAST = (0.1, 0.1)

# (pin, factory name) -> [gpiozero LED, number of StatusLed objects using it]
_shared: dict[tuple[int, str], list[Any]] = {}
_shared_lock = threading.Lock()


def pin_factory(name: str) -> Any:
    """The gpiozero pin factory named ``name`` (``""`` = gpiozero's own choice: None).

    A named factory becomes gpiozero's global one, so that the button and the LED share it.

    Raises:
        ConfigError: no factory of that name is installed.
    """
    if not name:
        return None
    from gpiozero import Device

    for entry in entry_points(group="gpiozero_pin_factories"):
        if entry.name == name.lower():
            cls = entry.load()
            if not isinstance(Device.pin_factory, cls):
                Device.pin_factory = cls()
            return Device.pin_factory
    raise ConfigError([f"gpio.pin_factory = {name!r}: no gpiozero pin factory of that name"])


class StatusLed:
    """The status LED on BCM ``pin``; pin -1 means no LED and every method does nothing.

    Args:
        pin: BCM pin number, or -1.
        pin_factory: gpiozero pin factory name (config ``gpio.pin_factory``); ``""`` = default.

    Raises:
        ConfigError: gpiozero cannot drive the pin (e.g. no pin factory off a Pi).
    """

    def __init__(self, pin: int, pin_factory: str = "") -> None:
        self.pin = pin
        self._key = (pin, pin_factory)
        self._led: Any = _acquire(self._key) if pin >= 0 else None

    def on(self) -> None:
        """Steadily on (the camera is open)."""
        if self._led is not None:
            self._led.on()

    def off(self) -> None:
        """Off."""
        if self._led is not None:
            self._led.off()

    def blink_slow(self) -> None:
        """Slow blink: starting, or waiting for the audio device."""
        if self._led is not None:
            self._led.blink(*_SLOW, background=True)

    def blink_fast(self) -> None:
        """Fast blink: a fault that needs a person."""
        if self._led is not None:
            self._led.blink(*_FAST, background=True)

    @property
    def is_lit(self) -> bool:
        """Whether the LED is on now (False without an LED)."""
        return bool(self._led is not None and self._led.is_lit)

    def close(self) -> None:
        """Lets go of the pin (the last holder switches the LED off); safe to call again."""
        led, self._led = self._led, None
        if led is not None:
            _release(self._key, led)

    def __enter__(self) -> StatusLed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _acquire(key: tuple[int, str]) -> Any:
    with _shared_lock:
        entry = _shared.get(key)
        if entry is None or _is_stale(entry[0]):
            entry = _shared[key] = [_make_led(*key), 0]
        entry[1] += 1
        return entry[0]


def _is_stale(led: Any) -> bool:
    """True when ``led`` was closed, or its pin factory was reset (tests) and forgot its pin."""
    if led.closed:
        return True
    pins = getattr(led.pin_factory, "pins", None)
    return isinstance(pins, dict) and all(p is not led.pin for p in pins.values())


def _release(key: tuple[int, str], led: Any) -> None:
    with _shared_lock:
        entry = _shared.get(key)
        if entry is None or entry[0] is not led:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _shared[key]
            led.close()


def _make_led(pin: int, factory_name: str) -> Any:
    from gpiozero import LED
    from gpiozero.exc import GPIOZeroError

    try:
        return LED(pin, pin_factory=pin_factory(factory_name))
    except GPIOZeroError as exc:
        raise ConfigError([
            f"camera.led_pin = {pin}: gpiozero cannot drive it ({type(exc).__name__}: {exc}); "
            'off a Raspberry Pi set gpio.pin_factory = "mock", or camera.led_pin = -1'
        ]) from exc
