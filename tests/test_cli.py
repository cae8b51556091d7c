"""The ``moodbox`` dispatcher: --version, help for users, lazy subcommands, -v anywhere."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from appliance import __version__
from appliance.cli import COMMANDS, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"moodbox {__version__}"


def test_help_names_every_command_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "moodbox demo" in out
    for name, summary in COMMANDS.items():
        assert name in out and summary.split()[0] in out
    assert "DEBUG level" not in out


def test_status_imports_no_opencv_numpy_or_runtime(tmp_path: Path) -> None:
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[daemon]\nstate_file = "{tmp_path / "state.json"}"\n')
    script = ("import sys\nfrom appliance.cli import main\n"
              f"code = main(['status', '--config', {str(config)!r}])\n"
              "heavy = [m for m in ('cv2', 'numpy', 'ai_edge_litert', 'tflite_runtime', 'vlc',"
              " 'gpiozero') if m in sys.modules]\n"
              "print('HEAVY', heavy, code)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False)
    assert "HEAVY [] 3" in result.stdout, result.stdout + result.stderr


@pytest.fixture
def root_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with warnings.catch_warnings():
        yield root
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize(("argv", "level"), [
    (["config"], logging.WARNING),
    (["-v", "config"], logging.INFO),
    (["config", "-v"], logging.INFO),  # -v after the subcommand works too
    (["config", "-vv"], logging.DEBUG),
])
def test_info_lines_only_with_verbose(argv: list[str], level: int, root_logging: logging.Logger,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "moodbox.toml"
    config.write_text("")
    assert main([*argv, "--config", str(config)]) == 0
    assert root_logging.level == level


def test_verbose_after_a_nested_subcommand(root_logging: logging.Logger, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[library]\ndatabase = "{tmp_path / "lib.sqlite3"}"\n')
    assert main(["library", "list", "-v", "--config", str(config)]) == 0
    assert root_logging.level == logging.INFO


def test_gpiozero_warnings_hidden_without_verbose(root_logging: logging.Logger, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from gpiozero.exc import PinFactoryFallback

    config = tmp_path / "moodbox.toml"
    config.write_text("")
    main(["config", "--config", str(config)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit(PinFactoryFallback("Falling back from lgpio"), PinFactoryFallback,
                               "devices.py", 1, module="gpiozero.devices")
    assert caught == []


def test_demo_on_a_file_says_one_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert main(["demo", "--folder", str(not_a_folder), "--seconds", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"moodbox demo: cannot use {not_a_folder} for the demo library: "
                   "Not a directory; give --folder a writable folder"]
