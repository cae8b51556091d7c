"""The daemon records its listening history (issue 13) in the library's SQLite file: plays with
how they ended, the mood checks and the choices they led to; a restart takes the no-repeat
window back from it; ``history.enabled = false`` stores no moods. On the virtual clock, except
the last test, which runs the real daemon over real libvlc and reads ``moodbox history``."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from daemonsetup import write_music
from test_daemon_virtual import make_config, make_music

from appliance.daemon.events import ButtonPressed
from appliance.daemon.virtual import FakeCheck, simulate
from appliance.demo import Piece
from appliance.mood.reading import NO_FACE, MoodReading
from appliance.music.history import History

SAD = MoodReading("sad", 0.8, faces=1, frames=5,
                  probabilities={"sad": 0.8, "neutral": 0.2})
SONG_S = 200.0
# Five tracks at one point: every one is in the band, so only recency decides.
SAME = [Piece(f"Same {i}", 0.5, 0.5, 0.2) for i in range(5)]


@pytest.fixture
def music(tmp_path: Path) -> dict[str, str]:
    return make_music(tmp_path)


def test_plays_checks_and_choices_are_recorded_and_linked(
        tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path)
    with simulate(config, lambda n: FakeCheck(1.5, SAD)) as sim:
        sim.loop.run_until(3 * SONG_S + 1.0)
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(5.0)
        history = sim.history
        plays, checks, choices = history.plays(), history.checks(), history.choices()
        learned_from = history.observations()
    assert [p.path for p in plays] == [r["path"] for r in sim.named("track_started")]
    assert [p.how for p in plays[:3]] == ["finished"] * 3
    assert plays[3].how == "skipped" and 0 < (plays[3].fraction or 0) < 0.1
    assert plays[-1].how == "stopped" or plays[-1].how is None
    assert [c.cause for c in checks] == ["end", "end", "end", "button"]
    assert all(c.outcome == "reading" and c.emotion == "sad" for c in checks)
    assert checks[0].valence is not None and checks[0].valence < 0
    # The chain learning needs: each play after the first was chosen by a check in the one
    # before it.
    by_id = {c.id: c for c in choices}
    for before, after in itertools.pairwise(plays):
        assert after.choice is not None
        check = next(c for c in checks if c.id == by_id[after.choice].mood_check)
        assert check.play == before.id
    assert choices[0].mood_check is None  # the first track: no reading yet
    # Plays 2 to 4 each have the reading that chose them and one at their end (or press).
    assert [o.path for o in learned_from] == [p.path for p in plays[1:4]]
    assert learned_from[-1].weight == pytest.approx(plays[3].fraction)


def test_a_restart_keeps_the_no_repeat_window(tmp_path: Path) -> None:
    make_music(tmp_path, SAME)
    config = make_config(tmp_path, rules={"no_repeat": 3})
    with simulate(config, lambda n: FakeCheck(1.5, SAD)) as sim:
        sim.loop.run_until(4 * SONG_S - 1.0)
        first_run = [r["path"] for r in sim.named("track_started")]
    assert len(first_run) == 4 and len(set(first_run)) == 4
    with simulate(config, lambda n: FakeCheck(1.5, SAD), start=10 * SONG_S) as sim:
        sim.loop.run_for(1.0)
        assert [t.path for t in sim.session.history[:4]] == first_run
        again = sim.named("track_started")[0]["path"]
    # Without the stored history the first track (by name) would open again; with it, the
    # one never played is the least recently played.
    assert first_run[0] == sorted(first_run)[0]
    assert again not in first_run


def test_history_disabled_stores_no_moods(tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path, history={"enabled": False})
    with simulate(config, lambda n: FakeCheck(1.5, SAD)) as sim:
        sim.loop.run_until(2 * SONG_S + 1.0)
        counts = sim.history.counts()
    assert counts["checks"] == 0 and counts["choices"] == 0
    assert counts["plays"] == 3  # the no-repeat window still needs the plays
    with (tmp_path / "library.sqlite3").open("rb") as db:
        assert b'"sad"' not in db.read()


def test_failed_and_no_face_checks_are_stored_as_such(
        tmp_path: Path, music: dict[str, str]) -> None:
    readings = {1: FakeCheck(0.3, None, "fake camera: open failed", opens=False),
                2: FakeCheck(1.5, MoodReading(NO_FACE, 0.0, faces=0, frames=5))}
    config = make_config(tmp_path)
    with simulate(config, lambda n: readings.get(n, FakeCheck(1.5, SAD))) as sim:
        sim.loop.run_until(2 * SONG_S + 1.0)
        outcomes = [c.outcome for c in sim.history.checks()]
    assert outcomes == ["failed", "no_face"]


def test_a_corrupt_track_is_a_failed_play(tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path)
    with simulate(config, lambda n: FakeCheck(1.5, SAD)) as sim:
        sim.player.corrupt.add(music["Sad"])
        sim.player.reported[music["Sad"]] = SONG_S
        sim.loop.run_until(SONG_S + 30.0)
        plays = sim.history.plays()
    sad = [p for p in plays if p.path == music["Sad"]]
    assert sad and sad[0].how == "failed"


@pytest.mark.slow
def test_moodbox_history_lists_what_the_daemon_played(
        tmp_path: Path, photo_paths: dict[str, Path], mock_pins: object) -> None:
    from test_daemon import HAPPY, START, Running
    from test_daemon import make_config as real_config

    paths = write_music(tmp_path, START, HAPPY)
    config = real_config(tmp_path, photo_paths["astronaut"])
    run = Running(config)
    try:
        run.wait_for("track_started")
        run.wait_for("mood")
        run.wait_for("track_started")
    finally:
        assert run.stop() == 0
    (tmp_path / "moodbox.toml").write_text(
        f'[library]\ndatabase = "{config.library.database}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "history", "--json", "--config",
         str(tmp_path / "moodbox.toml")], capture_output=True, text=True, check=True, timeout=60)
    listed = json.loads(done.stdout)
    played = [p["path"] for p in listed["plays"]]
    assert played == [paths["Start"], paths["Happy"]]
    assert listed["plays"][0]["how"] == "finished"
    assert listed["plays"][1]["how"] == "stopped"
    assert [c["emotion"] for c in listed["checks"]][:1] == ["happy"]
    assert listed["choices"][1]["path"] == paths["Happy"]
    with History.from_config(config) as history:
        assert history.counts()["plays"] == 2
