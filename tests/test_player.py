"""VlcPlayer over the real libvlc (adummy output; amem where the volume must read back)."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import pytest

from appliance.daemon.events import PlayerEvent
from appliance.demo import synthesize, write_wav
from appliance.errors import PlaybackError
from appliance.music.player import VlcPlayer, probe_output

WAIT_S = 5.0  # generous: the machine may be busy; nothing here measures speed


def _tone(path: Path, seconds: float) -> str:
    write_wav(path, synthesize(0.7, 0.6, seconds))
    return str(path)


def _next(events: queue.Queue[object], token: int) -> PlayerEvent:
    """The next event for ``token``, skipping news about other tracks."""
    while True:
        event = events.get(timeout=WAIT_S)
        assert isinstance(event, PlayerEvent)
        if event.token == token:
            return event


def _volume_when_ready(player: VlcPlayer) -> int:
    """The volume once VLC's output exists (it reads -1 until then)."""
    for _ in range(100):
        volume = player.get_volume()
        if volume >= 0:
            return volume
        threading.Event().wait(0.02)
    return -1


@pytest.fixture
def events() -> queue.Queue[object]:
    return queue.Queue()


@pytest.fixture
def player(events: queue.Queue[object]):
    with VlcPlayer(events.put, output="dummy", caching_ms=100) as p:
        yield p


def test_plays_to_the_end_and_reports_length(player: VlcPlayer, events, tmp_path: Path):
    token = player.play(_tone(tmp_path / "a.wav", 1.0))
    assert _next(events, token).kind == "playing"
    assert player.length_s() == pytest.approx(1.0, abs=0.05)
    assert _next(events, token).kind == "ended"
    assert not player.is_playing()


def test_missing_file_reports_error(player: VlcPlayer, events, tmp_path: Path):
    token = player.play(str(tmp_path / "not-there.mp3"))
    assert _next(events, token).kind == "error"


def test_corrupt_file_ends_at_once_with_length_zero(player: VlcPlayer, events, tmp_path):
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(np.random.default_rng(1).bytes(4000))
    token = player.play(str(bad))
    kinds = [_next(events, token).kind, _next(events, token).kind]
    assert kinds[-1] == "ended"
    assert player.length_s() == 0


def test_replaced_track_events_carry_the_old_token(player: VlcPlayer, events, tmp_path):
    first = player.play(_tone(tmp_path / "a.wav", 2.0))
    assert _next(events, first).kind == "playing"
    second = player.play(_tone(tmp_path / "b.wav", 0.5))
    assert second != first
    assert _next(events, second).kind == "playing"
    assert _next(events, second).kind == "ended"
    assert player.token == second


def test_prepared_track_plays(player: VlcPlayer, events, tmp_path: Path):
    path = _tone(tmp_path / "next.wav", 0.5)
    player.prepare(path)
    token = player.play(path)
    assert _next(events, token).kind == "playing"
    assert _next(events, token).kind == "ended"


def test_pause_and_resume(player: VlcPlayer, events, tmp_path: Path):
    token = player.play(_tone(tmp_path / "a.wav", 3.0))
    assert _next(events, token).kind == "playing"
    player.pause()
    threading.Event().wait(0.3)
    assert not player.is_playing()
    before = player.position_s()
    threading.Event().wait(0.3)
    assert player.position_s() == before  # paused: the position does not move
    player.resume()
    assert _next(events, token).kind == "playing"


@pytest.mark.parametrize("stop", [False, True])
def test_fade_steps_the_volume_down_and_the_next_track_is_loud(events, tmp_path, stop):
    # ALSA's null device needs no sound card and, unlike adummy, reads the volume back.
    with VlcPlayer(events.put, output="alsa", device="null", volume=80, caching_ms=100) as player:
        token = player.play(_tone(tmp_path / "a.wav", 5.0))
        assert _next(events, token).kind == "playing"
        seen: list[int] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.append(player.get_volume())
                done.wait(0.02)

        watcher = threading.Thread(target=watch, name="watch-volume")
        watcher.start()
        player.fade_out(0.6)
        done.set()
        watcher.join()
        assert player.get_volume() == 0
        assert seen == sorted(seen, reverse=True)
        assert any(0 < v < 80 for v in seen)  # stepped, not cut
        if stop:  # stop() drops VLC's output, so the volume waits for the next one
            player.stop()
        # The next track starts at the configured volume again.
        token = player.play(_tone(tmp_path / "b.wav", 1.0))
        assert _next(events, token).kind == "playing"
        assert _volume_when_ready(player) == 80


def test_close_is_idempotent(events):
    player = VlcPlayer(events.put, output="dummy")
    player.close()
    player.close()


def test_unknown_output_is_refused(events):
    with pytest.raises(PlaybackError, match="unknown audio output"):
        VlcPlayer(events.put, output="speakers")


def test_probe_names_a_missing_alsa_device():
    with pytest.raises(PlaybackError, match="no-such-card"):
        probe_output("alsa", "hw:CARD=no-such-card")


def test_probe_dummy_always_works():
    probe_output("dummy")
