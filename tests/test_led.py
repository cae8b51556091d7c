"""The status LED on gpiozero's MockFactory: states, sharing one pin, no LED at -1."""

from __future__ import annotations

import time

import pytest

from appliance.errors import ConfigError
from appliance.hw.led import StatusLed, pin_factory


def states(factory: object, pin: int) -> list[bool]:
    return [bool(s.state) for s in factory.pin(pin).states]  # type: ignore[attr-defined]


def test_on_and_off_drive_the_pin(mock_pins: object) -> None:
    with StatusLed(27) as led:
        led.on()
        assert led.is_lit
        led.off()
        led.off()
        assert not led.is_lit
    assert states(mock_pins, 27) == [False, True, False]


def test_pin_minus_one_is_no_led(mock_pins: object) -> None:
    led = StatusLed(-1)
    for action in (led.on, led.blink_fast, led.blink_slow, led.off, led.close, led.close):
        action()
    assert not led.is_lit
    assert 27 not in mock_pins.pins  # type: ignore[attr-defined]


def test_two_holders_share_one_pin_and_the_last_close_frees_it(mock_pins: object) -> None:
    daemon_led, check_led = StatusLed(27), StatusLed(27)  # gpiozero allows one device a pin
    check_led.on()
    check_led.close()
    check_led.close()
    assert daemon_led.is_lit
    daemon_led.off()
    daemon_led.close()
    from gpiozero import LED

    LED(27).close()  # the pin is free again
    assert states(mock_pins, 27) == [False, True, False]


def test_blinking_toggles_the_pin(mock_pins: object) -> None:
    with StatusLed(27) as led:
        led.blink_fast()
        deadline = time.monotonic() + 5
        while len(states(mock_pins, 27)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        led.blink_slow()
        led.on()  # a steady light stops the blinking
        assert led.is_lit
    history = states(mock_pins, 27)
    assert history[:3] == [False, True, False]


def test_named_pin_factory_becomes_gpiozeros_and_unknown_names_fail(mock_pins: object) -> None:
    assert pin_factory("mock") is mock_pins
    assert pin_factory("") is None
    with pytest.raises(ConfigError, match=r"gpio\.pin_factory = 'nope'"):
        pin_factory("nope")
