"""The one status LED (GPIO27 by default): camera indicator and status patterns.

It is lit steadily exactly while the camera is open, blinks slowly while the box starts or
waits for audio, and blinks fast on a fault that needs a person. The mood check and the
daemon may each hold a ``StatusLed`` for the same pin: they share one gpiozero ``LED``
(counted references), since gpiozero allows only one device per pin.

Off a Pi (no Raspberry Pi model in the device tree and no ``/dev/gpiochip*``), the default
factory is gpiozero's ``MockFactory``, said once in the log; ``GPIOZERO_PIN_FACTORY`` or config
``gpio.pin_factory`` choose another. On a Pi, a GPIO failure stays an error (``ConfigError``).
Mock pins record their ``states`` history for tests.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from appliance.errors import ConfigError

log = logging.getLogger(__name__)

_SLOW = (1.0, 1.0)  # seconds on, off
_FAST = (0.1, 0.1)

# (pin, factory name) -> [gpiozero LED, number of StatusLed objects using it]
_shared: dict[tuple[int, str], list[Any]] = {}
_shared_lock = threading.Lock()


#: Where a Raspberry Pi names its model, and where GPIO chips appear (tests point elsewhere).
MODEL_FILE = Path("/proc/device-tree/model")
DEV_DIR = Path("/dev")
_said_mock = False


def pin_factory(name: str) -> Any:
    """The gpiozero pin factory named ``name`` (``""`` = gpiozero's own choice: None).

    A named factory becomes gpiozero's global one, so that the button and the LED share it.
    With ``""`` off a Pi (see the module docstring) it is the mock factory, said once.

    Raises:
        ConfigError: no factory of that name is installed, or it cannot start.
    """
    use_own_lgpio_folder()
    if not name:
        if os.environ.get("GPIOZERO_PIN_FACTORY") or on_a_pi():
            return None
        _say_mock()
        name = "mock"
    from gpiozero import Device

    for entry in entry_points(group="gpiozero_pin_factories"):
        if entry.name == name.lower():
            cls = entry.load()
            if not isinstance(Device.pin_factory, cls):
                try:
                    Device.pin_factory = cls()
                except gpio_errors() as exc:
                    raise ConfigError([f"gpio.pin_factory = {name!r}: cannot start "
                                       f"({type(exc).__name__}: {exc})"]) from exc
            return Device.pin_factory
    raise ConfigError([f"gpio.pin_factory = {name!r}: no gpiozero pin factory of that name"])


def on_a_pi() -> bool:
    """Whether this is a Raspberry Pi, or at least has a GPIO chip to drive."""
    try:
        if MODEL_FILE.read_bytes().startswith(b"Raspberry Pi"):
            return True
    except OSError:
        pass
    return any(DEV_DIR.glob("gpiochip*"))


def _say_mock() -> None:
    global _said_mock
    if not _said_mock:
        _said_mock = True
        log.warning("not a Raspberry Pi and no GPIO chip: the button and LED are simulated "
                    "(gpiozero's mock pins)")


def use_own_lgpio_folder() -> None:
    """Give lgpio a writable folder of our own (``LG_WD``) unless one is set.

    ``import lgpio`` creates its notification FIFO in the working folder; in one we may not
    write (``sudo -u moodbox moodbox doctor`` from a home folder) it fails and gpiozero
    silently falls back to another factory (on a Pi 5: none that works).
    """
    if os.environ.get("LG_WD"):
        return
    folder = Path(tempfile.gettempdir(), f"moodbox-lgpio-{os.getuid()}")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        log.debug("cannot make %s for lgpio: %s", folder, exc)
        return
    os.environ["LG_WD"] = str(folder)


def gpio_errors() -> tuple[type[BaseException], ...]:
    """The errors a GPIO call can raise: gpiozero's, and ``lgpio.error`` (a plain Exception).

    Both mean the pin cannot be used as configured (busy, missing chip): a ``ConfigError``.
    """
    from gpiozero.exc import GPIOZeroError

    errors: list[type[BaseException]] = [GPIOZeroError]
    lgpio = sys.modules.get("lgpio")
    if lgpio is not None and isinstance(getattr(lgpio, "error", None), type):
        errors.append(lgpio.error)
    return tuple(errors)


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

    try:
        return LED(pin, pin_factory=pin_factory(factory_name))
    except gpio_errors() as exc:
        raise ConfigError([
            f"camera.led_pin = {pin}: gpiozero cannot drive it ({type(exc).__name__}: {exc}); "
            "is another program using the pin? camera.led_pin = -1 runs without the LED"
        ]) from exc
