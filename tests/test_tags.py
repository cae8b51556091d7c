"""Tags over tiny real files: FFmpeg-written assets, WAV made here, mutagen as the witness."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import mutagen
import pytest
from audiofiles import ASSET_TAGS, ASSETS, make_wav

from appliance.errors import LibraryError
from appliance.music.tags import AUDIO_SUFFIXES, read_tags, write_tags


@pytest.mark.parametrize("suffix", sorted(ASSET_TAGS))
def test_reads_tags_another_program_wrote(suffix: str) -> None:
    info = read_tags(ASSETS / f"tone{suffix}")
    title, artist, valence, energy = ASSET_TAGS[suffix]
    assert (info.title, info.artist) == (title, artist)
    assert info.valence == pytest.approx(valence)
    assert info.energy == pytest.approx(energy)
    assert 0.4 < info.duration_s < 0.8  # 0.5 s of tone plus each codec's padding


@pytest.mark.parametrize("suffix", [*sorted(ASSET_TAGS), ".wav"])
def test_write_then_read_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"song{suffix}"
    if suffix == ".wav":
        make_wav(path, seconds=0.25)
    else:
        shutil.copyfile(ASSETS / f"tone{suffix}", path)
    write_tags(path, valence=0.125, energy=0.875, title="Déjà Vu", artist="Ünïcode Band")
    info = read_tags(path)
    assert (info.title, info.artist) == ("Déjà Vu", "Ünïcode Band")
    assert (info.valence, info.energy) == (0.125, 0.875)
    if suffix == ".wav":
        assert info.duration_s == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("suffix", "key"),
    [
        (".mp3", "TXXX:VALENCE"),
        (".wav", "TXXX:VALENCE"),
        (".flac", "VALENCE"),
        (".ogg", "VALENCE"),
        (".opus", "VALENCE"),
        (".m4a", "----:com.apple.iTunes:VALENCE"),
    ],
)
def test_custom_tags_land_where_other_players_look(tmp_path: Path, suffix: str, key: str) -> None:
    path = tmp_path / f"song{suffix}"
    if suffix == ".wav":
        make_wav(path)
    else:
        shutil.copyfile(ASSETS / f"tone{suffix}", path)
    write_tags(path, valence=0.3)
    tags = mutagen.File(path).tags
    value = tags[key]
    text = value.text if hasattr(value, "text") else value
    assert [bytes(v).decode() if not isinstance(v, str) else v for v in text] == ["0.300"]


def test_unset_arguments_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "a.mp3"
    shutil.copyfile(ASSETS / "tone.mp3", path)
    write_tags(path, energy=0.1)
    info = read_tags(path)
    assert (info.title, info.valence, info.energy) == ("Tone MP3", 0.81, 0.1)


def test_out_of_range_value_is_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "a.mp3"
    shutil.copyfile(ASSETS / "tone.mp3", path)
    with pytest.raises(LibraryError, match="VALENCE must be between 0 and 1"):
        write_tags(path, valence=1.2)
    assert read_tags(path).valence == 0.81


def test_untagged_wav_takes_title_and_artist_from_its_name(tmp_path: Path) -> None:
    info = read_tags(make_wav(tmp_path / "The Band - Slow Song.wav"))
    assert (info.title, info.artist, info.valence, info.energy) == (
        "Slow Song", "The Band", None, None,
    )
    assert read_tags(make_wav(tmp_path / "plain name.wav")).title == "plain name"


@pytest.mark.parametrize("bad", ["high", "1.5", "-0.2", "nan"])
def test_bad_custom_tag_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    path = tmp_path / "a.flac"
    shutil.copyfile(ASSETS / "tone.flac", path)
    audio = mutagen.File(path)
    audio["VALENCE"] = [bad]
    audio.save()
    with caplog.at_level(logging.WARNING):
        info = read_tags(path)
    assert info.valence is None and info.energy == 0.3
    assert "ignoring VALENCE" in caplog.text


def corrupt_wav(path: Path) -> None:
    path.write_bytes(make_wav(path).read_bytes()[:30])  # cut inside the fmt chunk


def truncated_flac(path: Path) -> None:
    path.write_bytes((ASSETS / "tone.flac").read_bytes()[:30])


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("noise.mp3", lambda p: p.write_bytes(bytes(range(256)) * 4), "can't sync to MPEG"),
        ("empty.ogg", lambda p: p.write_bytes(b""), "not a recognised audio"),
        ("text.flac", lambda p: p.write_text("hello"), "read the file: it is not a valid FLAC"),
        ("notes.txt", lambda p: p.write_text("hello"), "not a recognised audio"),
        ("bad.wav", corrupt_wav, "cannot read the file: InvalidChunk"),
        ("cut.flac", truncated_flac, "cannot read the file"),
        ("silent.wav", lambda p: make_wav(p, seconds=0), "no audio in the file"),
        ("missing.mp3", lambda p: None, "cannot read the file"),
    ],
)
def test_unreadable_files_raise_one_clear_library_error(
    tmp_path: Path, name: str, make: object, reason: str
) -> None:
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    with pytest.raises(LibraryError, match=reason) as caught:
        read_tags(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_writing_to_a_non_audio_file_is_a_library_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("not audio")
    with pytest.raises(LibraryError, match="cannot write tags to the file: can't sync"):
        write_tags(path, valence=0.5)
    with pytest.raises(LibraryError, match="cannot write tags"):
        write_tags(tmp_path / "absent.mp3", valence=0.5)


def test_scanned_suffixes() -> None:
    assert {".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav"} == AUDIO_SUFFIXES
