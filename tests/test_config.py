"""The config: shipped defaults, the schema's checks, every problem at once, ``moodbox config``."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.cli import main
from appliance.config import (
    Config,
    default_data,
    dump_config,
    load_config,
    parse_config,
)
from appliance.errors import ConfigError
from appliance.mood.reading import LABELS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "moodbox.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_defaults_match_the_pinned_values() -> None:
    config = parse_config({})
    assert config.library.music_dir == Path("/var/lib/moodbox/music")
    assert config.library.database == Path("/var/lib/moodbox/library.sqlite3")
    assert config.library.rescan_s == 60
    camera = config.camera
    assert (camera.source, camera.lead_s, camera.frames) == ("picamera2", 20.0, 5)
    assert (camera.led_pin, camera.warmup_s, camera.debug_dir) == (27, 1.0, None)
    assert config.mood.model is None
    assert (config.mood.min_face_score, config.mood.min_confidence) == (0.75, 0.40)
    assert (config.audio.output, config.audio.device, config.audio.volume) == ("alsa", "", 80)
    assert config.audio.fade_s == 1.5
    assert (config.gpio.pin_factory, config.gpio.button_pin, config.gpio.hold_s) == ("", 17, 2.0)
    assert (config.rules.strategy, config.rules.step, config.rules.no_repeat) == ("iso", 0.15, 10)
    assert set(config.rules.targets) == set(LABELS) == set(config.rules.moods)
    assert config.daemon.state_file == Path("/var/lib/moodbox/state.json")
    assert config.daemon.events is None
    assert config.daemon.watchdog is True


def test_defaults_file_has_exactly_the_schema_keys() -> None:
    data = default_data()
    config = parse_config({})
    assert list(data) == [f.name for f in fields(Config)]
    for section in fields(Config):
        assert list(data[section.name]) == [f.name for f in fields(getattr(config, section.name))]


def test_config_is_frozen() -> None:
    config = parse_config({})
    with pytest.raises(AttributeError):
        config.rules.step = 0.3  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.rules.targets["sad"] = config.rules.targets["happy"]  # type: ignore[index]


def test_file_overrides_only_its_keys(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [camera]
        source = "files:pics"
        lead_s = 2
        [rules.targets]
        sad = { valence = 0.9 }
    """))
    assert config.camera.source == f"files:{tmp_path / 'pics'}"  # beside the config file
    assert config.camera.lead_s == 2.0 and isinstance(config.camera.lead_s, float)
    assert config.camera.frames == 5
    assert config.rules.targets["sad"].valence == 0.9
    assert config.rules.targets["sad"].energy == 0.55  # merged from the defaults
    assert config.rules.targets["happy"].valence == 0.8


def test_paths_expand_home_and_resolve_against_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(write(tmp_path, """
        [library]
        music_dir = "~/Music"
        database = "lib.sqlite3"
        [daemon]
        events = "/tmp/ev.jsonl"
    """))
    assert config.library.music_dir == tmp_path / "home" / "Music"
    assert config.library.database == tmp_path / "lib.sqlite3"
    assert config.daemon.events == Path("/tmp/ev.jsonl")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, """
        [camera]
        leds_s = 3
        lead_s = "soon"
        frames = 0
        source = "usb"
        led_pin = 40
        [gpoi]
        button_pin = 4
        [library]
        button_pin = 4
        database = ""
        [audio]
        output = "jack"
        volume = true
        [rules]
        strategy = "upflit"
        [rules.targets]
        sad = { valence = 1.5 }
        angy = { valence = 0.1, energy = 0.2 }
    """)
    text = "\n".join(problems)
    assert len(problems) == 13, text
    assert all(p.startswith(str(tmp_path / "moodbox.toml") + ": ") for p in problems)
    assert "unknown key camera.leds_s; did you mean camera.lead_s?" in text
    assert "unknown section gpoi; did you mean gpio?" in text
    assert "unknown key library.button_pin; did you mean gpio.button_pin?" in text
    assert "unknown key rules.targets.angy; did you mean rules.targets.angry?" in text
    assert 'camera.lead_s = "soon": expected a number' in text
    assert "camera.frames = 0: must be between 1 and" in text
    assert 'camera.source = "usb": must be "picamera2", "opencv:N"' in text
    assert "camera.led_pin = 40: must be a BCM pin" in text
    assert 'library.database = "": must not be empty' in text
    assert "audio.output = \"jack\": must be one of 'alsa', 'pulse', 'dummy'" in text
    assert "audio.volume = true: expected a whole number" in text
    assert "rules.strategy = \"upflit\": must be one of 'uplift', 'iso', 'match'" in text
    assert "rules.targets.sad.valence = 1.5: must be between 0 and 1" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("camera = 3", "[camera] must be a table, not 3"),
        ("[rules]\ntargets = 1", "rules.targets must be a table of emotions, not 1"),
        ("[rules.targets]\nsad = 0.5", "rules.targets.sad = 0.5: must be { valence"),
        ("[daemon]\nwatchdog = 1", "daemon.watchdog = 1: expected true or false"),
        ("[audio]\ndevice = 3", "audio.device = 3: expected a string"),
        ("[daemon]\nstate_file = 3", "daemon.state_file = 3: expected a path string"),
        ("[camera]\nsource = \"opencv:x\"", 'camera.source = "opencv:x": must be'),
        ("[gpio]\npin_factory = \"mok\"", 'gpio.pin_factory = "mok": must be one of'),
        ("[rules]\nstep = 0", "rules.step = 0: must be between 0.01 and 1"),
        ("[camera]\nled_pin = 17", "camera.led_pin = gpio.button_pin = 17: the LED and the "
         "button need a pin each"),
    ],
)
def test_each_bad_value_names_key_value_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert expected in problem


def test_no_led_and_no_button_may_both_be_minus_one() -> None:
    config = parse_config({"camera": {"led_pin": -1}, "gpio": {"button_pin": -1}})
    assert (config.camera.led_pin, config.gpio.button_pin) == (-1, -1)


@pytest.mark.parametrize("source", ["picamera2", "opencv:0", "opencv:12", "files:some/dir",
                                    "opencv:" + __file__])
def test_camera_sources_accepted(source: str) -> None:
    assert parse_config({"camera": {"source": source}}).camera.source == source


def test_camera_files_and_videos_resolve_against_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clip.avi").write_bytes(b"x")
    monkeypatch.chdir(tmp_path.parent)  # not the config's folder
    config = load_config(write(tmp_path, '[camera]\nsource = "opencv:clip.avi"'))
    assert config.camera.source == f"opencv:{tmp_path / 'clip.avi'}"
    for kept in ("opencv:2", "picamera2"):
        path = write(tmp_path, f'[camera]\nsource = "{kept}"')
        assert load_config(path).camera.source == kept


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    (problem,) = problems_of(tmp_path, "[camera\nsource = 1")
    assert "not valid TOML" in problem


def test_none_uses_default_path_only_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "DEFAULT_PATH", tmp_path / "absent.toml")
    assert load_config(None) == parse_config({})
    path = write(tmp_path, "[audio]\noutput = \"dummy\"")
    monkeypatch.setattr(config_module, "DEFAULT_PATH", path)
    assert load_config(None).audio.output == "dummy"


def test_dump_round_trips(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [camera]
        debug_dir = "frames"
        [daemon]
        events = "ev.jsonl"
        [rules]
        strategy = "match"
        [rules.moods]
        sad = { valence = 0.05, energy = 0.1 }
    """))
    text = dump_config(config)
    assert parse_config(tomllib.loads(text)) == config
    assert parse_config(tomllib.loads(dump_config(parse_config({})))) == parse_config({})


def test_config_command_prints_effective_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[rules]\nstrategy = \"uplift\"")
    assert main(["config", "--config", str(path)]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["rules"]["strategy"] == "uplift"
    assert printed["camera"]["lead_s"] == 20.0


def test_config_command_lists_problems_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[rules]\nstrategy = \"x\"\nstep = 2")
    with pytest.raises(SystemExit) as caught:
        main(["config", "--config", str(path)])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2 problem(s)" in captured.err
    assert 'rules.strategy = "x"' in captured.err and "rules.step = 2" in captured.err
