"""The library over real files and real SQLite databases in tmp_path."""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from audiofiles import ASSET_TAGS, make_track, make_wav

from appliance.errors import LibraryError
from appliance.music import walk
from appliance.music.library import Library, Track
from appliance.music.tags import write_tags


@pytest.fixture
def music(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    for suffix in ASSET_TAGS:
        make_track(folder / "formats" / f"tone{suffix}")
    make_track(folder / "a" / "sad.wav", "Sad Song", "Blue", 0.1, 0.2)
    make_track(folder / "a" / "b" / "happy.WAV", "Happy Song", "Sun", 0.9, 0.8)
    make_wav(folder / "The Band - Untagged.wav")
    (folder / "notes.txt").write_text("not music")
    (folder / "._happy.wav").write_bytes(b"\x00" * 10)  # macOS resource fork: skipped
    return folder


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    with Library(tmp_path / "db" / "library.sqlite3") as lib:
        yield lib


def test_first_scan_reads_every_format(music: Path, library: Library) -> None:
    report = library.scan(music)
    assert (report.found, report.added, report.updated, report.unchanged) == (8, 8, 0, 0)
    assert report.unreadable == () and report.folder_problems == ()
    tracks = {Path(t.path).name: t for t in library.tracks()}
    assert sorted(tracks) == sorted(
        [f"tone{s}" for s in ASSET_TAGS] + ["sad.wav", "happy.WAV", "The Band - Untagged.wav"]
    )
    assert tracks["tone.m4a"].title == "Tone M4A" and tracks["tone.m4a"].valence == 0.15
    sad = Track(str(music / "a" / "sad.wav"), "Sad Song", "Blue", 0.2, 0.1, 0.2, "tag")
    assert tracks["sad.wav"] == sad
    untagged = tracks["The Band - Untagged.wav"]
    assert (untagged.title, untagged.artist, untagged.valence) == ("Untagged", "The Band", None)


def test_rescan_reads_only_changed_files_and_drops_removed(music: Path, library: Library) -> None:
    library.scan(music)
    assert library.scan(music).unchanged == 8
    write_tags(music / "a" / "sad.wav", valence=0.3)
    (music / "formats" / "tone.ogg").unlink()
    make_track(music / "new.mp3", "New", "Someone", 0.5, 0.5)
    report = library.scan(music)
    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 6, 1)
    assert library.get(music / "a" / "sad.wav").valence == 0.3  # type: ignore[union-attr]
    assert library.get(music / "formats" / "tone.ogg") is None


def test_progress_reports_every_file(music: Path, library: Library) -> None:
    calls: list[tuple[int, int, str]] = []
    library.scan(music, progress=lambda done, total, path: calls.append((done, total, path)))
    assert [c[0] for c in calls] == list(range(1, 9))
    assert {c[1] for c in calls} == {8}
    assert all(Path(c[2]).is_file() for c in calls)


def test_unreadable_files_are_recorded_and_skipped(music: Path, library: Library) -> None:
    (music / "broken.mp3").write_bytes(random.Random(0).randbytes(2000))  # fixed: no flake
    (music / "empty.flac").write_bytes(b"")
    (music / "dangling.wav").symlink_to(music / "nowhere.wav")
    report = library.scan(music)
    reasons = dict(report.unreadable)
    assert sorted(Path(p).name for p in reasons) == ["broken.mp3", "dangling.wav", "empty.flac"]
    assert "cannot open" in reasons[str(music / "dangling.wav")]
    assert reasons[str(music / "empty.flac")].startswith("cannot read the file")
    assert len(library.tracks()) == 8
    assert [Path(p).name for p, _ in library.unplayable()] == [
        "broken.mp3", "dangling.wav", "empty.flac",
    ]
    again = library.scan(music)  # unchanged files are not read or reported again
    assert again.unreadable == () and again.unchanged == 11
    make_track(music / "fixed.mp3")
    (music / "empty.flac").unlink()
    make_track(music / "empty.flac")
    assert library.get(music / "empty.flac") is not None
    assert len(library.scan(music).unreadable) == 0
    assert len(library.tracks()) == 10


def test_symlink_loops_and_aliases_are_survived(music: Path, library: Library) -> None:
    (music / "a" / "b" / "loop").symlink_to(music)
    (music / "alias").symlink_to(music / "a")
    outside = music.parent / "outside"
    make_track(outside / "linked.wav", "Linked", "Far", 0.4, 0.4)
    (music / "more").symlink_to(outside)
    report = library.scan(music)
    assert report.found == 9
    assert len(report.folder_problems) == 2
    assert all("links back to a folder already scanned" in p for p in report.folder_problems)
    assert library.get(music / "more" / "linked.wav") is not None


def test_unreadable_folder_is_noted_and_the_rest_scanned(
    music: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = music / "a" / "b"
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root ignores modes: raise what the OS would raise
        real_scandir = os.scandir

        def scandir(path: Path) -> object:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(walk.os, "scandir", scandir)
    try:
        report = library.scan(music)
    finally:
        locked.chmod(0o755)
    assert report.found == 7
    assert report.folder_problems == (f"{locked}: cannot read the folder: Permission denied",)


def test_missing_music_folder_leaves_the_library_alone(music: Path, library: Library) -> None:
    library.scan(music)
    with pytest.raises(LibraryError, match="music folder not found"):
        library.scan(music.parent / "unplugged")
    assert len(library.tracks()) == 8


def test_mark_unplayable_until_the_file_changes(music: Path, library: Library) -> None:
    library.scan(music)
    path = music / "a" / "sad.wav"
    library.mark_unplayable(path, "VLC: length 0")
    assert str(path) not in [t.path for t in library.tracks()]
    assert (str(path), "VLC: length 0") in library.unplayable()
    assert library.get(path) is not None
    library.scan(music)
    assert library.get(path) not in library.tracks()
    write_tags(path, energy=0.25)
    library.scan(music)
    assert library.get(path) in library.tracks()
    library.mark_unplayable(music / "unknown.mp3", "whatever")  # warns, changes nothing
    assert len(library.tracks()) == 8


def test_set_tags_wins_over_file_tags_and_survives_rescans(
    music: Path, library: Library
) -> None:
    library.scan(music)
    path = music / "a" / "sad.wav"
    track = library.set_tags(path, 0.45, None)
    assert (track.valence, track.energy) == (0.45, 0.2)
    write_tags(path, valence=0.05, energy=0.6)
    library.scan(music)
    expected = Track(str(path), "Sad Song", "Blue", track.duration_s, 0.45, 0.6, "manual")
    assert library.get(path) == expected
    with pytest.raises(LibraryError, match="valence must be between 0 and 1"):
        library.set_tags(path, 1.5, 0.1)
    with pytest.raises(LibraryError, match="no such file"):
        library.set_tags(music / "nope.wav", 0.5, 0.5)
    (music / "new.wav").write_bytes(b"")  # there, but not scanned yet
    with pytest.raises(LibraryError, match="not in the library"):
        library.set_tags(music / "new.wav", 0.5, 0.5)


def test_relative_paths_are_looked_up_absolute(
    music: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.scan(music)
    monkeypatch.chdir(music / "a")
    assert library.get("sad.wav") == library.get(music / "a" / "sad.wav") is not None


def test_database_is_wal_consistent_and_shared_between_connections(
    music: Path, library: Library
) -> None:
    library.scan(music)
    with Library(library.database) as other:
        assert other.tracks() == library.tracks()
    with sqlite3.connect(library.database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
