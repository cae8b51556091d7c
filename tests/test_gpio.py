"""GPIO set-up: the mock fallback off a Pi, lgpio's errors and its FIFO folder."""

from __future__ import annotations

import logging
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.hw import led as led_module
from appliance.hw.button import MoodButton
from appliance.hw.led import StatusLed, pin_factory


@pytest.fixture
def no_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from gpiozero import Device

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(led_module, "_said_mock", False)
    old = Device.pin_factory
    if old is not None:
        old.reset()
    Device.pin_factory = None
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
    Device.pin_factory = old


def _machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: bytes | None,
             chips: int = 0) -> None:
    model_file = tmp_path / "model"
    if model is not None:
        model_file.write_bytes(model)
    dev = tmp_path / "dev"
    dev.mkdir()
    for n in range(chips):
        (dev / f"gpiochip{n}").touch()
    monkeypatch.setattr(led_module, "MODEL_FILE", model_file)
    monkeypatch.setattr(led_module, "DEV_DIR", dev)


def test_off_a_pi_the_mock_factory_is_used_and_said_once(
        no_factory: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from gpiozero.pins.mock import MockFactory

    _machine(monkeypatch, tmp_path, model=None)
    with caplog.at_level(logging.WARNING), StatusLed(27) as led:
        led.on()
        assert led.is_lit
        assert isinstance(pin_factory(""), MockFactory)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "simulated" in lines[0]


@pytest.mark.parametrize(("model", "chips"), [(b"Raspberry Pi 5 Model B Rev 1.0\0", 0),
                                              (None, 1)])
def test_on_a_pi_a_gpio_failure_stays_an_error(
        no_factory: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        model: bytes | None, chips: int) -> None:
    _machine(monkeypatch, tmp_path, model=model, chips=chips)
    assert pin_factory("") is None  # gpiozero's own choice, which finds no factory here
    with pytest.raises(ConfigError, match=r"camera\.led_pin = 27"):
        StatusLed(27)


class _LgpioError(Exception):
    """Stands in for ``lgpio.error``: a plain Exception, not a gpiozero one."""


def test_lgpio_errors_are_config_errors(mock_pins: object,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("lgpio")
    fake.error = _LgpioError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lgpio", fake)

    def busy(*args: object, **kwargs: object) -> object:
        raise _LgpioError("GPIO busy")

    monkeypatch.setattr(mock_pins, "pin", busy)
    with pytest.raises(ConfigError, match=r"camera.led_pin = 27.*GPIO busy"):
        StatusLed(27)
    with pytest.raises(ConfigError, match=r"gpio.button_pin = 17.*GPIO busy"):
        MoodButton(17, 1.0, lambda: None, lambda: None)


def test_a_factory_that_fails_with_lgpio_error_is_a_config_error(
        no_factory: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from gpiozero.pins.mock import MockFactory

    fake = types.ModuleType("lgpio")
    fake.error = _LgpioError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lgpio", fake)

    def no_chip(self: object) -> None:
        raise _LgpioError("can not open gpiochip")

    monkeypatch.setattr(MockFactory, "__init__", no_chip)
    with pytest.raises(ConfigError, match=r"gpio.pin_factory = 'mock': cannot start"):
        pin_factory("mock")


def test_lgpio_gets_a_writable_folder_of_our_own(
        mock_pins: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    read_only = tmp_path / "home"
    read_only.mkdir(mode=0o555)
    monkeypatch.chdir(read_only)
    monkeypatch.delenv("LG_WD", raising=False)
    pin_factory("mock")
    folder = Path(os.environ["LG_WD"])
    assert folder.is_dir() and os.access(folder, os.W_OK) and "moodbox" in folder.name
    monkeypatch.setenv("LG_WD", str(tmp_path))
    pin_factory("mock")
    assert os.environ["LG_WD"] == str(tmp_path)  # one set by the user is kept
