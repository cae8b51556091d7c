"""The decision log (JSON lines, INFO lines, listeners), the state file, and ``moodbox status``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.daemon.events import EVENT_NAMES, EventLog, PlayerEvent, describe
from appliance.daemon.state import StateFile, daemon_alive, describe_state, read_state


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_records_are_json_lines_with_time_since_start(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "logs" / "events.jsonl"
    with EventLog(path, clock=clock) as log:
        clock.now += 1.25
        log.emit("track_started", path=tmp_path / "a.wav", title="A", valence=0.123456,
                 energy=None, length_s=3.0)
        clock.now += 0.5
        log.emit("mood", emotion="happy", confidence=0.91, faces=1,
                 probabilities={"happy": 0.91, "sad": float("nan")})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"t": 1.25, "event": "track_started", "path": str(tmp_path / "a.wav"),
                        "title": "A", "valence": 0.123, "energy": None, "length_s": 3.0}
    assert lines[1]["t"] == 1.75
    assert lines[1]["probabilities"] == {"happy": 0.91, "sad": None}


def test_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    for _ in range(2):
        with EventLog(path) as log:
            log.emit("stopping")
    assert len(path.read_text().splitlines()) == 2


def test_each_record_is_one_info_line_and_reaches_listeners(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen = []
    log = EventLog(None)
    log.add_listener(seen.append)
    with caplog.at_level(logging.INFO, logger="appliance.daemon.events"):
        log.emit("skipped", path="/music/x.mp3", why="file not found")
        log.emit("button", action="hold")
    assert [r.getMessage() for r in caplog.records] == [
        "skipped /music/x.mp3: file not found", "button hold"]
    assert [r["event"] for r in seen] == ["skipped", "button"]
    log.close()
    log.close()  # idempotent


def test_unknown_event_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event"):
        EventLog(None).emit("track_finished")


@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_every_event_reads_as_a_line(name: str) -> None:
    text = describe({"t": 0.0, "event": name, "path": "/m/a.wav", "title": "A",
                     "emotion": "sad", "confidence": 0.5, "faces": 1, "why": "x",
                     "component": "camera", "message": "m", "action": "press",
                     "reason": "r", "strategy": "iso", "valence": 0.2, "energy": 0.3,
                     "length_s": 3.0})
    assert text and "\n" not in text


def test_queue_events_are_frozen() -> None:
    event = PlayerEvent("ended", 3)
    with pytest.raises(AttributeError):
        event.kind = "playing"  # type: ignore[misc]


def test_state_file_is_rewritten_atomically_on_change(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.json"
    state = StateFile(path)
    first = read_state(path)
    assert first is not None and first["state"] == "starting" and first["pid"] == os.getpid()
    assert first["track"] is None and first["camera"] == "off"
    before = path.stat().st_mtime_ns
    state.update(state="starting")  # no change: no write
    assert path.stat().st_mtime_ns == before
    state.update(state="playing", camera="on")
    again = read_state(path)
    assert again is not None and again["state"] == "playing" and again["camera"] == "on"
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary left
    with pytest.raises(ValueError):
        state.update(state="dancing")
    with pytest.raises(KeyError):
        state.update(volume=3)


def test_unwritable_state_file_does_not_stop_anything(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = StateFile(blocker / "state.json")  # its "folder" is a file
    state.update(state="playing")
    assert read_state(blocker / "state.json") is None


def test_daemon_alive_tells_a_stale_pid() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not daemon_alive(child.pid)
    assert not daemon_alive(None)
    assert not daemon_alive(0)


def test_state_reads_as_one_line() -> None:
    now = time.time()
    line = describe_state({
        "state": "playing", "camera": "off", "next_check_at": now + 125,
        "track": {"path": "/m/a.wav", "title": "Blue", "artist": "Miles"},
        "last_mood": {"emotion": "sad", "confidence": 0.61, "faces": 1, "at": now - 30},
    }, now)
    assert line == ("playing 'Blue' by Miles; last mood: sad (0.61) 30 s ago; camera off; "
                    "next check in 2 min")
    assert describe_state({"state": "waiting_library"}) == "waiting for music to play"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "moodbox.toml"
    path.write_text(f'[daemon]\nstate_file = "{tmp_path / "state.json"}"\n')
    return path


def test_status_without_a_state_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["status", "--config", str(_config(tmp_path))]) == 3
    assert "No Moodbox daemon has run here" in capsys.readouterr().out


def test_status_with_a_stale_pid(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _config(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    state = StateFile(tmp_path / "state.json")
    state._data["pid"] = child.pid
    state.update(state="playing", track={"path": "/m/a.wav", "title": "Blue", "artist": ""})
    assert main(["status", "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert "No Moodbox daemon is running" in out and f"pid {child.pid}" in out
    assert "'Blue'" in out


def test_status_of_a_running_daemon(tmp_path: Path) -> None:
    # A child process that calls itself moodbox keeps a state file up to date.
    config = _config(tmp_path)
    script = (
        "import time\n"
        "from pathlib import Path\n"
        "from appliance.daemon.state import StateFile\n"
        f"s = StateFile(Path({str(tmp_path / 'state.json')!r}))\n"
        "s.update(state='playing', camera='off', next_check_at=time.time() + 3600,\n"
        "         track={'path': '/m/a.wav', 'title': 'Blue', 'artist': 'Miles',\n"
        "                'valence': 0.2, 'energy': None, 'length_s': 200.0},\n"
        "         last_mood={'emotion': 'sad', 'confidence': 0.6, 'faces': 1,\n"
        "                    'at': time.time() - 600})\n"
        "print('ready', flush=True); time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, "moodbox"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        result = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "status", "--config", str(config)],
            capture_output=True, text=True, check=False)
    finally:
        child.kill()
        child.wait()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Moodbox is playing (pid {child.pid})" in out
    assert "'Blue' by Miles (valence 0.20, energy untagged, 200 s)" in out
    # Ten minutes ago and an hour ahead: shown in whole minutes, so the seconds the status
    # command takes to start (anything under 30 s) cannot change the line.
    assert "last mood:  sad (0.60) 10 min ago" in out
    assert "next check: in 60 min" in out
