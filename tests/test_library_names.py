"""A music file whose name is not valid UTF-8: scanned, stored, played and reported.

The file is real: its name holds the Latin-1 byte 0xE9 ("café" as an old rip or a FAT USB
stick writes it), which Python hands over as a str with a surrogate escape.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.daemon.events import PlayerEvent
from appliance.daemon.state import StateFile, read_state
from appliance.music.library import Library, shown
from appliance.music.player import VlcPlayer

ASSETS = Path(__file__).parent / "assets"
NAME = b"caf\xe9 - Tone.mp3"


@pytest.fixture
def music(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), NAME)
    shutil.copy(ASSETS / "tone.mp3", raw)
    shutil.copy(ASSETS / "tone.flac", folder / "plain.flac")
    return folder


def _odd_path(music: Path) -> str:
    return os.fsdecode(os.path.join(os.fsencode(music), NAME))


def test_scan_stores_it_and_gives_back_the_same_path(music: Path, tmp_path: Path) -> None:
    odd = _odd_path(music)
    with Library(tmp_path / "lib.sqlite3") as library:
        report = library.scan(music)
        assert (report.found, report.added, report.unreadable) == (2, 2, ())
        paths = [t.path for t in library.tracks()]
        assert odd in paths and os.path.exists(odd)
        track = library.get(odd)
        assert track is not None and track.valence == pytest.approx(0.81)
        assert library.set_tags(odd, 0.3, None).valence == 0.3
        again = library.scan(music)  # the stored path round-trips: nothing re-read
        assert (again.unchanged, again.added, again.removed) == (2, 0, 0)
        os.remove(odd)
        assert library.scan(music).removed == 1
        assert [t.path for t in library.tracks()] == [str(music / "plain.flac")]


def test_reports_show_the_name_printably(music: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[library]\nmusic_dir = "{music}"\ndatabase = "{tmp_path / "l.db"}"\n')
    assert main(["library", "scan", "--config", str(config)]) == 0
    assert main(["library", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2 audio files" in out
    assert "caf\\xe9 - Tone.mp3" in out
    assert shown(_odd_path(music)).endswith("caf\\xe9 - Tone.mp3")


def test_state_file_keeps_the_path(music: Path, tmp_path: Path) -> None:
    odd = _odd_path(music)
    state = StateFile(tmp_path / "state.json")
    state.update(state="playing", track={"path": odd, "title": "Tone"})
    data = read_state(tmp_path / "state.json")
    assert data is not None and data["track"]["path"] == odd
    json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))


def test_vlc_plays_it(music: Path) -> None:
    events: queue.Queue[object] = queue.Queue()
    with VlcPlayer(events.put, output="dummy", caching_ms=100) as player:
        player.prepare(_odd_path(music))
        token = player.play(_odd_path(music))
        kinds = []
        while "ended" not in kinds and "error" not in kinds:
            event = events.get(timeout=5)
            assert isinstance(event, PlayerEvent)
            if event.token == token:
                kinds.append(event.kind)
    assert kinds[0] == "playing" and kinds[-1] == "ended"
