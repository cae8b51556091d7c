"""Faults around the daemon that need no clock: the events file, odd files in the music
folder, config numbers that used to crash or hang it, and the debug folder."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from appliance.config import parse_config
from appliance.daemon.events import EventLog
from appliance.daemon.loop import check_debug_dir
from appliance.errors import ConfigError
from appliance.music.walk import find_audio

FULL = Path("/dev/full")  # Linux: every write fails with ENOSPC, like a full disk


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_an_events_file_that_cannot_be_written_is_reported_once_then_dropped() -> None:
    seen: list[dict[str, object]] = []
    log = EventLog(FULL)
    log.add_listener(lambda r: seen.append(dict(r)))
    for _ in range(3):
        log.emit("button", action="press")
    errors = [r for r in seen if r["event"] == "error"]
    assert len(errors) == 1 and errors[0]["component"] == "events"
    assert [r["event"] for r in seen].count("button") == 3
    log.close()


def test_fifos_and_device_links_are_not_indexed(tmp_path: Path) -> None:
    (tmp_path / "song.wav").write_bytes(b"RIFF")
    os.mkfifo(tmp_path / "pipe.mp3")
    (tmp_path / "zero.flac").symlink_to("/dev/zero")
    problems: list[str] = []
    found = [p.name for p in find_audio(tmp_path, problems)]
    assert found == ["song.wav"]
    assert sorted(line.split(": ")[0].rsplit("/", 1)[-1] for line in problems) == [
        "pipe.mp3", "zero.flac"]
    assert all("not a regular file" in line for line in problems)


@pytest.mark.parametrize(("section", "key", "value"), [
    ("audio", "fade_s", math.inf), ("audio", "fade_s", 1e9), ("gpio", "hold_s", 1e308),
    ("camera", "frames", 1000), ("camera", "lead_s", math.inf), ("camera", "warmup_s", math.inf),
    ("audio", "fade_s", math.nan), ("library", "rescan_s", 10**12),
])
def test_numbers_that_crashed_or_hung_the_daemon_are_refused(
        section: str, key: str, value: float) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({section: {key: value}})
    assert any(f"{section}.{key}" in p for p in error.value.problems)


def test_a_debug_dir_that_cannot_be_created_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"camera\.debug_dir"):
        check_debug_dir(blocker / "frames")
    check_debug_dir(tmp_path / "ok")  # a writable one is fine
    check_debug_dir(None)
