"""The history tables over real SQLite files: migration, records, pruning, forgetting, kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from audiofiles import make_track

from appliance.config import parse_config
from appliance.mood.reading import NO_FACE, UNSURE, MoodReading
from appliance.music.history import DAY_S, History
from appliance.music.library import Library, Track

CONFIG = parse_config({})
T0 = 1_700_000_000.0
MARKER = "ForgetMeXq7Z"


def _history(db: Path, **settings: Any) -> History:
    return History(db, replace(CONFIG.history, **settings), CONFIG.mood.circumplex,
                   clock=lambda: T0)


def _reading(emotion: str, p: float = 0.9) -> MoodReading:
    rest = (1 - p) / 6
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    probs = {k: (p if k == emotion else rest) for k in labels}
    return MoodReading(emotion, p, probs, faces=1, frames=5)


def _track(name: str, valence: float | None = 0.5) -> Track:
    return Track(f"/music/{name}.mp3", name, "", 180.0, valence, 0.5)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with _history(tmp_path / "library.sqlite3") as h:
        yield h


def test_migrates_todays_library_in_place(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    make_track(tmp_path / "music" / "song.wav", "Song", "Band", 0.3, 0.4)
    with Library(db) as library:
        library.scan(tmp_path / "music")
        library.set_tags(tmp_path / "music" / "song.wav", 0.8, None)
        before = library.tracks()
    inode = db.stat().st_ino
    with _history(db) as history:
        history.start_play(before[0])
    with _history(db):  # a second open changes nothing
        pass
    assert db.stat().st_ino == inode  # the same file, not a rebuilt one
    with Library(db) as library:
        assert library.tracks() == before and before[0].valence == 0.8
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tracks", "overrides", "plays", "checks", "choices"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM plays").fetchone()[0] == 1


def test_records_round_trip_and_make_observations(history: History) -> None:
    a, b = _track("a", 0.2), _track("b", 0.8)
    start = history.record_check(_reading("sad"), "start", at=T0)
    choice = history.record_choice(a.path, "iso: sad 90%; chose 'a'", start, at=T0)
    play = history.start_play(a, choice, at=T0 + 1)
    end = history.record_check(_reading("happy"), "end", play, at=T0 + 160)
    choice_b = history.record_choice(b.path, "iso: happy", end, explored=True, at=T0 + 160)
    history.end_play(play, "finished", 1.0, at=T0 + 181)
    play_b = history.start_play(b, choice_b, at=T0 + 181)
    history.record_check(_reading("happy"), "button", play_b, at=T0 + 200)
    history.end_play(play_b, "skipped", 0.25, at=T0 + 201)
    plays, checks, choices = history.plays(), history.checks(), history.choices()
    assert [(p.path, p.how, p.fraction) for p in plays] == [
        (a.path, "finished", 1.0), (b.path, "skipped", 0.25)]
    assert [c.cause for c in checks] == ["start", "end", "button"]
    assert checks[0].outcome == "reading" and checks[0].emotion == "sad"
    assert checks[0].probabilities["sad"] == 0.9 and checks[0].valence is not None
    assert checks[0].valence < -0.5 < 0.5 < (checks[1].valence or 0)
    assert choices[1].explored and not choices[0].explored
    observations = history.observations()
    assert [(o.path, o.weight) for o in observations] == [(a.path, 1.0), (b.path, 0.25)]
    assert observations[0].before == checks[0].valence
    assert observations[0].after == checks[1].valence
    assert history.recent_paths(5) == [a.path, b.path]
    assert history.counts() == {"plays": 2, "checks": 3, "choices": 2}


def test_no_face_unsure_failed_give_no_observation(history: History) -> None:
    for i, reading in enumerate((None, MoodReading(NO_FACE, 0.0, {}, 0, 5),
                                 MoodReading(UNSURE, 0.3, {"sad": 0.3, "neutral": 0.3}, 1, 5))):
        before = history.record_check(_reading("sad"), "end", at=T0 + 10 * i)
        play = history.start_play(_track(f"t{i}"), history.record_choice("x", "r", before))
        history.record_check(reading, "end", play, at=T0 + 10 * i + 5)
    failed = history.start_play(_track("bad"), history.record_choice("x", "r", before))
    history.record_check(_reading("happy"), "end", failed, at=T0 + 100)
    history.end_play(failed, "failed", 0.0)
    assert [c.outcome for c in history.checks()][1:-1:2] == ["failed", "no_face", "unsure"]
    assert history.observations() == []
    assert history.recent_paths(10)[-1] == _track("t2").path  # the failed play was not heard


def test_disabled_history_stores_no_moods(tmp_path: Path) -> None:
    with _history(tmp_path / "db.sqlite3", enabled=False) as history:
        assert history.record_check(_reading("sad"), "start") is None
        assert history.record_choice("x", "iso: sad 90%") is None
        history.start_play(_track("a"))
        assert history.counts() == {"plays": 1, "checks": 0, "choices": 0}


def test_bad_cause_or_ending_is_refused(history: History) -> None:
    with pytest.raises(ValueError):
        history.record_check(None, "timer")
    with pytest.raises(ValueError):
        history.end_play(1, "exploded", 1.0)


def test_prune_keeps_keep_days(tmp_path: Path) -> None:
    with _history(tmp_path / "db.sqlite3", keep_days=30) as history:
        for age_days in (40, 31, 29, 1):
            at = T0 - age_days * DAY_S
            history.start_play(_track(f"d{age_days}"), at=at)
            history.record_check(_reading("happy"), "end", at=at)
        assert history.prune(now=T0) == 4
        assert [p.path for p in history.plays()] == [_track("d29").path, _track("d1").path]
        assert len(history.checks()) == 2


def test_forget_leaves_no_byte_in_the_file(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    with Library(db) as library, _history(db) as history:
        keep = history.start_play(_track("keep"), at=T0)
        for i in range(60):  # enough to spread over several pages
            check = history.record_check(_reading("sad"), "end", keep, at=T0 - 1000 + i)
            history.record_choice(f"/music/{MARKER}{i}.mp3", f"chose {MARKER} {i}", check,
                                  at=T0 - 1000 + i)
            history.start_play(_track(f"{MARKER}{i}"), at=T0 - 1000 + i)
        assert library.tracks() == []  # the library's own connection stays open meanwhile
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert MARKER.encode() in raw
        assert history.forget(before=T0) == 180
        assert [p.path for p in history.plays()] == [_track("keep").path]
        files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert MARKER.encode() not in files
        assert history.forget() == 1 and history.counts() == {"plays": 0, "checks": 0,
                                                              "choices": 0}


_WRITER = """
import sys
from dataclasses import replace
from appliance.config import parse_config
from appliance.music.history import History
from appliance.music.library import Track
config = parse_config({})
history = History(sys.argv[1], config.history, config.mood.circumplex)
i = 0
while True:
    pid = history.start_play(Track(f"/m/{i}.mp3", "t", "", 1.0, 0.5, 0.5), at=float(i))
    print(pid, flush=True)
    i += 1
"""


def test_kill_9_loses_no_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    committed = [int(proc.stdout.readline()) for _ in range(40)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed += [int(line) for line in proc.stdout.read().split()]
    with _history(db) as history:
        stored = {p.id for p in history.plays()}
    assert set(committed) <= stored


def test_readings_without_probabilities_make_no_observation(history: History) -> None:
    # A reading with no class probabilities has no valence: the learning must not see it.
    track = _track("a", 0.2)
    bare = MoodReading("sad", 0.9, {}, faces=1, frames=5)
    start = history.record_check(bare, "start", at=T0)
    play = history.start_play(track, history.record_choice(track.path, "r", start, at=T0),
                              at=T0 + 1)
    history.record_check(_reading("happy"), "end", play, at=T0 + 160)
    history.end_play(play, "finished", 1.0, at=T0 + 181)
    assert history.checks()[0].valence is None
    assert history.observations() == []


def test_observations_in_order_and_limited_to_the_newest(history: History) -> None:
    for n, name in enumerate(("a", "b", "c")):
        track, at = _track(name), T0 + 1000 * n
        start = history.record_check(_reading("sad"), "start", at=at)
        play = history.start_play(track, history.record_choice(track.path, "r", start, at=at),
                                  at=at + 1)
        history.record_check(_reading("happy"), "end", play, at=at + 160)
        history.end_play(play, "finished", 1.0, at=at + 181)
    assert [Path(o.path).stem for o in history.observations()] == ["a", "b", "c"]
    assert [Path(o.path).stem for o in history.observations(limit=2)] == ["b", "c"]
