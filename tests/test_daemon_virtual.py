"""Every race of issue 11 on the virtual clock: the real ``Session`` with the fake player, the
fake check runner, a real library, state file and event log. Each test runs in milliseconds
and replays exactly."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from daemonsetup import daemon_config, write_music

from appliance.config import Config
from appliance.daemon.events import ButtonHeld, ButtonPressed, PlayerEvent
from appliance.daemon.playing import STALL_S, START_S
from appliance.daemon.session import CHECK_TIMEOUT_S, JOIN_S, Queued
from appliance.daemon.state import read_state
from appliance.daemon.virtual import FakeCheck, Simulation, simulate
from appliance.demo import Piece
from appliance.mood.reading import NO_FACE, MoodReading
from appliance.music.rules import Choice

SAD = MoodReading("sad", 0.9, faces=1, frames=5)
LEAD_S = 20.0
PIECES = [Piece("Start", 0.60, 0.50, 0.2), Piece("Happy", 0.85, 0.70, 0.2),
          Piece("Sad", 0.15, 0.25, 0.2), Piece("Calm", 0.50, 0.30, 0.2)]


def make_config(tmp_path: Path, **sections: Mapping[str, Any]) -> Config:
    """A config whose files all live under ``tmp_path``; ``sections`` override keys."""
    return daemon_config(tmp_path, {
        "camera": {"source": "files:" + str(tmp_path), "lead_s": LEAD_S, "led_pin": -1},
        "audio": {"fade_s": 1.0},
        "gpio": {"pin_factory": "mock", "button_pin": -1},
    }, sections)


def make_music(tmp_path: Path, pieces: list[Piece] = PIECES) -> dict[str, str]:
    """The pieces (by default the four of ``PIECES``) written and scanned; title -> path."""
    return write_music(tmp_path, *pieces)


@pytest.fixture
def music(tmp_path: Path) -> dict[str, str]:
    return make_music(tmp_path)


@pytest.fixture
def sim(tmp_path: Path, music: dict[str, str]) -> Iterator[Simulation]:
    with simulate(make_config(tmp_path), lambda n: FakeCheck(1.5, SAD)) as s:
        s.loop.run_for(1.0)
        yield s


def started(sim: Simulation) -> list[str]:
    return [r["path"] for r in sim.named("track_started")]


def test_first_track_plays_and_ready_follows_it(sim: Simulation, music: dict[str, str]) -> None:
    assert started(sim) == [music["Start"]]
    names = [r["event"] for r in sim.records]
    assert names[:3] == ["track_chosen", "track_started", "ready"]


def test_the_scanner_is_told_what_plays_now_and_next(
        sim: Simulation, music: dict[str, str]) -> None:
    assert sim.session.upcoming() == [music["Start"]]
    sim.loop.run_until(200.0 - LEAD_S + 2.0)  # the lead check has chosen the next track
    assert sim.session.upcoming() == [music["Start"], music["Sad"]]


def test_lead_check_chooses_with_the_reading_and_the_next_track_follows(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_until(200.0 - LEAD_S + 0.1)
    assert sim.runner.started == [1]  # the check started lead_s before the end
    sim.loop.run_for(2.0)
    assert sim.named("mood")[0]["emotion"] == "sad"
    assert sim.named("track_chosen")[-1]["path"] == music["Sad"]
    sim.loop.run_until(202.0)
    assert started(sim)[-1] == music["Sad"]
    assert not sim.named("check_missed")


def test_track_ending_during_a_check_goes_on_without_it_and_says_so(
        tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path, camera={"lead_s": 5.0})
    with simulate(config, lambda n: FakeCheck(8.0, SAD)) as sim:
        sim.loop.run_until(203.0)
        missed = sim.named("check_missed")
        assert missed and "ended before its mood check was done" in missed[0]["reason"]
        assert len(started(sim)) == 2
        # No silence: the next track started within the player's start-up time.
        gap = sim.named("track_started")[1]["t"] - sim.player.spans[0][1]
        assert gap <= 0.1
        sim.loop.run_for(20.0)
        assert not sim.named("mood")  # the late result was dropped
        assert sim.session.stats.cancelled == 1


def test_a_hold_during_a_press_check_keeps_the_music_paused(sim: Simulation) -> None:
    sim.loop.post(ButtonPressed())
    sim.loop.run_for(0.5)
    sim.loop.post(ButtonHeld())
    sim.loop.run_for(5.0)
    assert sim.session.paused and not sim.player.is_playing()
    assert len(started(sim)) == 1  # the choice waits
    assert sim.session.next is not None
    assert read_state(sim.session.state.path)["state"] == "paused"


def test_a_hold_during_the_lead_check_waits_for_the_resume(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_until(200.0 - LEAD_S + 0.5)
    assert sim.session.check is not None
    sim.loop.post(ButtonHeld())
    sim.loop.run_for(100.0)
    assert len(started(sim)) == 1 and sim.session.paused
    sim.loop.post(ButtonHeld())
    sim.loop.run_for(LEAD_S + 1.0)
    assert started(sim) == [music["Start"], music["Sad"]]


def test_an_end_already_on_its_way_when_paused_stays_paused(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_until(199.7)
    sim.loop.post(ButtonHeld())
    sim.loop.run_for(0.01)
    sim.loop.post(PlayerEvent("ended", sim.player.token))  # VLC's end crossed the pause
    sim.loop.run_for(10.0)
    assert len(started(sim)) == 1 and sim.session.paused
    sim.loop.post(ButtonHeld())
    sim.loop.run_for(1.0)
    assert started(sim)[-1] == music["Sad"]


def test_a_storm_of_presses_makes_one_check_and_one_switch(sim: Simulation) -> None:
    for _ in range(30):
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(1 / 30)
    sim.loop.run_for(JOIN_S - 0.5)
    for _ in range(5):  # just after the check: these join it too
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(0.1)
    sim.loop.run_for(5.0)
    assert sim.runner.started == [1]
    assert len(started(sim)) == 2
    assert len(sim.named("track_chosen")) == 2
    state = read_state(sim.session.state.path)
    assert state["track"]["path"] == started(sim)[-1]


def test_a_track_cut_short_before_it_plays_is_not_in_the_history(
        tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path, audio={"fade_s": 0.0})
    with simulate(config, lambda n: FakeCheck(0.1, SAD), player_start_s=5.0) as sim:
        sim.loop.run_for(0.01)  # chosen and handed to the player, not yet playing
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(10.0)
        assert len(sim.player.played) == 2
        assert sim.session.history == [sim.session.current]


def test_length_updates_rearm_the_lead_check(tmp_path: Path, music: dict[str, str]) -> None:
    config = make_config(tmp_path)
    with simulate(config, lambda n: FakeCheck(1.5, SAD)) as sim:
        sim.player.lengths[music["Start"]] = 60.0
        sim.player.reported[music["Start"]] = 200.0
        sim.loop.run_for(1.0)
        sim.player.reported[music["Start"]] = 60.0  # VLC learns the real length
        sim.loop.run_until(58.0)
        assert sim.runner.started == [1] and sim.named("mood")
        sim.loop.run_until(62.0)
        assert not sim.named("check_missed")


def test_a_wrong_length_gives_check_missed_with_the_reason(
        tmp_path: Path, music: dict[str, str]) -> None:
    with simulate(make_config(tmp_path)) as sim:
        sim.player.lengths[music["Start"]] = 150.0  # ends 50 s before the claimed 200 s
        sim.player.reported[music["Start"]] = 200.0
        sim.loop.run_until(160.0)
        missed = sim.named("check_missed")
        assert missed and "before its check was due" in missed[0]["reason"]
        assert len(started(sim)) == 2


def test_corrupt_file_with_a_good_header_is_marked_unplayable(
        tmp_path: Path, music: dict[str, str]) -> None:
    with simulate(make_config(tmp_path)) as sim:
        sim.player.corrupt.add(music["Happy"])
        for _ in range(4):  # keep steering toward it
            sim.session.next = None
            sim.loop.post(ButtonPressed())
            sim.loop.run_for(JOIN_S + 3.0)
        skipped = [r for r in sim.named("skipped") if r["path"] == music["Happy"]]
        assert skipped and "corrupt" in skipped[0]["why"]
        assert music["Happy"] not in [t.path for t in sim.session.tracks]
        assert sim.player.played.count(music["Happy"]) == 2


def test_a_vanished_queued_file_is_replaced_using_the_same_reading(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_until(199.0)
    assert sim.named("track_chosen")[-1]["path"] == music["Sad"]
    Path(music["Sad"]).unlink()
    sim.loop.run_until(202.0)
    chosen = sim.named("track_chosen")[-1]
    assert "sad" in chosen["reason"] and "queued file is gone" in chosen["reason"]
    assert started(sim)[-1] == music["Calm"]  # the nearest left to the sad point


def test_a_hung_camera_is_given_up_and_the_next_check_says_busy(
        tmp_path: Path, music: dict[str, str]) -> None:
    with simulate(make_config(tmp_path), lambda n: FakeCheck(100.0, SAD)) as sim:
        sim.loop.run_for(1.0)
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(CHECK_TIMEOUT_S + 3.0)
        reasons = [r["reason"] for r in sim.named("check_missed")]
        assert reasons and "no answer" in reasons[0]
        assert len(started(sim)) == 2  # the press still switched, without a reading
        sim.loop.post(ButtonPressed())
        sim.loop.run_for(5.0)
        assert "busy" in sim.named("check_missed")[-1]["reason"]


def test_camera_failure_is_an_error_and_the_music_goes_on(
        tmp_path: Path, music: dict[str, str]) -> None:
    fail = FakeCheck(0.5, None, "fake camera: open failed", "camera", opens=False)
    with simulate(make_config(tmp_path), lambda n: fail) as sim:
        sim.loop.run_until(205.0)
        assert sim.named("error")[0]["component"] == "camera"
        assert len(started(sim)) == 2


def test_led_is_lit_for_all_of_the_camera_time(sim: Simulation) -> None:
    sim.loop.run_until(203.0)
    led = sim.session.report.led.changes  # type: ignore[attr-defined]
    on = [r["t"] for r in sim.named("camera_on")]
    off = [r["t"] for r in sim.named("camera_off")]
    assert on and off
    during = [state for t, state in led if on[0] <= t - 0 < off[0]]
    assert during == ["on"]


def test_ready_is_sent_while_waiting_for_music(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify.sock"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
        (tmp_path / "music").mkdir()
        with simulate(make_config(tmp_path)) as sim:
            sim.loop.run_for(1.0)
            assert sim.named("ready")[0]["state"] == "waiting_library"
        notify.settimeout(1.0)
        messages = [notify.recv(4096).decode() for _ in range(2)]
    assert messages[0].startswith("STATUS=no playable music")
    assert messages[1] == "READY=1"


def test_sound_card_lost_mid_track_is_waited_for_and_the_track_replays(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_for(30.0)
    sim.player.lose_output("stall")
    sim.loop.run_for(STALL_S + 2.0)
    assert sim.named("error")[-1]["component"] == "audio"
    assert read_state(sim.session.state.path)["state"] == "waiting_audio"
    sim.player.restore_output()
    sim.loop.run_for(70.0)
    assert started(sim) == [music["Start"], music["Start"]]


def test_sound_card_lost_shows_as_tracks_ending_at_once(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_for(30.0)
    sim.player.lose_output("early")
    sim.loop.run_for(10.0)
    assert read_state(sim.session.state.path)["state"] == "waiting_audio"
    assert not sim.named("skipped")  # the file is not blamed for the output
    sim.player.restore_output()
    sim.loop.run_for(70.0)
    assert started(sim)[-1] == music["Start"]


def test_undecided_readings_do_not_run_to_the_extremes(
        tmp_path: Path) -> None:
    pieces = [Piece(f"T{i}", 0.5, round(0.05 + i * 0.1, 2), 0.2) for i in range(10)]
    make_music(tmp_path, pieces)
    no_face = MoodReading(NO_FACE, 0.0)
    config = make_config(tmp_path, rules={"strategy": "iso", "no_repeat": 0})
    with simulate(config, lambda n: FakeCheck(1.0, no_face), default_s=30.0) as sim:
        sim.loop.run_until(30.0 * 12)
        energies = [r["energy"] for r in sim.named("track_started")]
    assert max(energies) < 0.9


def test_a_track_that_never_starts_is_skipped_and_the_music_goes_on(
        sim: Simulation, music: dict[str, str]) -> None:
    hung = {path for title, path in music.items() if title != "Start"}
    sim.player.hung |= hung  # their inputs hang in VLC: no event would ever come
    sim.loop.run_until(200.0 + START_S - 1.0)  # the sad reading queued Sad; Start ends ~200 s
    assert started(sim) == [music["Start"]] and not sim.named("check_missed")
    sim.loop.run_until(200.0 + START_S + 1.0)
    missed = sim.named("check_missed")  # counted once, not yet marked: it may be a slow disk
    assert f"within {START_S:.0f} s" in missed[0]["reason"] and not sim.named("skipped")
    sim.loop.run_until(200.0 + 3 * START_S + 1.0)  # Calm was tried next, then Sad again
    skipped = sim.named("skipped")  # the second time it is marked unplayable
    assert [r["path"] for r in skipped] == [music["Sad"]]
    assert f"within {START_S:.0f} s, 2 times: its input hangs" in skipped[0]["why"]
    assert music["Sad"] not in [t.path for t in sim.session.tracks]
    assert started(sim) == [music["Start"]] * 2  # and the music goes on


def test_each_failure_of_a_file_probes_the_sound_card_once(
        sim: Simulation, music: dict[str, str]) -> None:
    probes: list[float] = []

    def audio_up() -> bool:
        probes.append(sim.loop.clock.monotonic())
        return True

    sim.loop.audio_up = audio_up
    sim.player.hung |= {path for title, path in music.items() if title != "Start"}
    sim.loop.run_until(200.0 + 3 * START_S + 1.0)  # Sad, Calm, then Sad again: marked
    assert [r["path"] for r in sim.named("skipped")] == [music["Sad"]]
    assert len(probes) == 3  # the third failure in a row is probed by file_failed alone


def test_a_track_slow_to_start_now_and_then_stays_in_the_library(
        sim: Simulation, music: dict[str, str]) -> None:
    sad = music["Sad"]
    sim.player.hung.add(sad)  # a disk or a share that takes long to wake up
    sim.loop.run_until(200.0 + START_S + 1.0)
    assert sad in sim.player.played and len(started(sim)) == 2  # given up; the music goes on
    track = next(t for t in sim.session.tracks if t.path == sad)
    sim.player.hung.discard(sad)  # awake: it plays to its end, which clears its count
    sim.session.switch(Queued(Choice(track, "asked for", 0.5, 0.5), None))
    sim.loop.run_for(250.0)
    assert sad in started(sim) and sad not in sim.session.file_failures
    sim.player.hung.add(sad)  # asleep again another day: given up once more, still not marked
    sim.session.switch(Queued(Choice(track, "asked for", 0.5, 0.5), None))
    sim.loop.run_for(START_S + 2.0)
    assert sim.session.file_failures[sad] == 1 and not sim.named("skipped")
    assert sad in [t.path for t in sim.session.tracks]


def test_a_stall_with_the_sound_card_there_is_a_failure_of_the_file_counted_once(
        sim: Simulation, music: dict[str, str]) -> None:
    sim.loop.run_for(30.0)
    sim.player.lose_output("stall")  # the position stops ...
    sim.loop.audio_up = lambda: True  # ... but the card opens: a share that hung, or the file
    sim.loop.run_for(STALL_S + 2.0)
    missed = sim.named("check_missed")
    assert missed and missed[-1]["reason"].startswith("playback stalled at")
    assert "(a failure of the file, counted)" in missed[-1]["reason"]
    assert not sim.named("skipped") and sim.session.file_failures == {music["Start"]: 1}
    assert music["Start"] in [t.path for t in sim.session.tracks]  # not marked the first time
