"""Importing an Exportify CSV: normalised matching, reports, dry runs, bad files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from audiofiles import make_track

from appliance.errors import LibraryError
from appliance.music.library import Library
from appliance.music.matching import normalise_title, split_artists

HEADER = ["Track URI", "Track Name", "Artist Name(s)", "Album Name", "Valence", "Energy"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    music = tmp_path / "music"
    make_track(music / "1.mp3", "Hey Jude", "The Beatles")
    make_track(music / "2.wav", "Déjà Vu", "Beyoncé feat. JAY-Z")
    make_track(music / "3.flac", "Under Pressure", "Queen; David Bowie")
    make_track(music / "x" / "4.wav", "Intro", "The xx")
    make_track(music / "y" / "4.wav", "Intro", "The xx")
    make_track(music / "5.wav", "Stay", "Rihanna")
    make_track(music / "6.wav", "Stay", "Zedd")
    make_track(music / "7.wav", "Stay", "Zedd, Alessia Cara")
    with Library(tmp_path / "library.sqlite3") as lib:
        lib.scan(music)
        yield lib


ROWS = [
    ["uri1", "Hey Jude - Remastered 2015", "The Beatles", "A", "0.532", "0.607"],
    ["uri2", "Deja Vu (feat. Jay-Z)", "Beyonce, JAY-Z", "B", "0.9", "0.8"],
    ["uri3", "Under Pressure (Remastered 2011)", "Queen, David Bowie", "C", "0.45", "0.7"],
    ["uri4", "Intro", "The xx", "D", "0.2", "0.3"],
    ["uri5", "Stay", "Zedd, Alessia Cara", "E", "0.4", "0.6"],
    ["uri6", "Yesterday", "The Beatles", "F", "0.3", "0.2"],
    ["uri7", "Broken", "Nobody", "G", "high", "0.2"],
    ["uri8", "", "Nobody", "H", "0.1", "0.2"],
]


def test_import_matches_normalised_names_and_reports_the_rest(
    tmp_path: Path, library: Library
) -> None:
    report = library.import_csv(write_csv(tmp_path / "liked.csv", ROWS))
    music = tmp_path / "music"
    matched = {Path(m.path).name: (m.row.valence, m.row.energy) for m in report.matched}
    assert matched == {
        "1.mp3": (0.532, 0.607), "2.wav": (0.9, 0.8), "3.flac": (0.45, 0.7), "7.wav": (0.4, 0.6),
    }
    ((row, candidates),) = report.ambiguous
    assert row.title == "Intro" and row.line == 5
    assert candidates == (str(music / "x" / "4.wav"), str(music / "y" / "4.wav"))
    assert [r.describe() for r in report.unmatched] == ["line 7: The Beatles - Yesterday"]
    assert report.invalid == (
        "line 8: Valence and Energy must be numbers from 0 to 1",
        "line 9: empty track or artist name",
    )
    assert report.applied
    hey_jude = library.get(music / "1.mp3")
    assert hey_jude is not None and (hey_jude.valence, hey_jude.energy) == (0.532, 0.607)
    assert library.get(music / "6.wav").valence is None  # type: ignore[union-attr]


def test_dry_run_changes_nothing(tmp_path: Path, library: Library) -> None:
    before = library.tracks()
    report = library.import_csv(write_csv(tmp_path / "liked.csv", ROWS), dry_run=True)
    assert len(report.matched) == 4 and not report.applied
    assert library.tracks() == before


def test_imported_values_survive_a_rescan(tmp_path: Path, library: Library) -> None:
    library.import_csv(write_csv(tmp_path / "liked.csv", ROWS[:1]))
    library.scan(tmp_path / "music")
    assert library.get(tmp_path / "music" / "1.mp3").valence == 0.532  # type: ignore[union-attr]


def test_csv_without_the_columns_is_refused(tmp_path: Path, library: Library) -> None:
    path = write_csv(tmp_path / "other.csv", [["a", "b"]], header=["Track Name", "Popularity"])
    missing = r"missing column\(s\) Artist Name\(s\), Valence, Energy"
    with pytest.raises(LibraryError, match=missing):
        library.import_csv(path)
    with pytest.raises(LibraryError, match="cannot read the CSV"):
        library.import_csv(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Hey Jude - Remastered 2015", "hey jude"),
        ("Déjà Vu (feat. JAY-Z)", "deja vu"),
        ("Song [Live] (Remastered 2011)", "song"),
        ("Bad ft. Someone Else", "bad"),
        ("With or Without You", "with or without you"),
        ("Don't Stop Me Now", "don t stop me now"),
        ("(Remix)", "remix"),
        ("ÉTÉ", "ete"),
    ],
)
def test_normalise_title(title: str, expected: str) -> None:
    assert normalise_title(title) == expected


@pytest.mark.parametrize(
    ("artists", "expected"),
    [
        ("Queen, David Bowie", {"queen", "david bowie"}),
        ("Queen; David Bowie", {"queen", "david bowie"}),
        ("Beyoncé feat. JAY-Z", {"beyonce", "jay z"}),
        ("Simon & Garfunkel", {"simon", "garfunkel"}),
        ("  ", set()),
    ],
)
def test_split_artists(artists: str, expected: set[str]) -> None:
    assert split_artists(artists) == expected


def test_semicolons_and_decimal_commas_are_read(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "liked.csv"
    path.write_text("Track Name;Artist Name(s);Valence;Energy\n"
                    "Hey Jude;The Beatles;0,72;0,41\n", encoding="utf-8")
    report = library.import_csv(path)
    assert [(m.row.title, m.row.valence, m.row.energy) for m in report.matched] == [
        ("Hey Jude", 0.72, 0.41)]


def test_a_latin_1_file_is_named_as_such(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "liked.csv"
    rows = "".join(f"Song {n},Someone,0.5,0.5\n" for n in range(2000))
    path.write_bytes(("Track Name,Artist Name(s),Valence,Energy\n" + rows
                      + "Déjà Vu,Beyoncé,0.5,0.5\n").encode("latin-1"))
    with pytest.raises(LibraryError) as failed:
        library.import_csv(path)
    message = str(failed.value)
    assert "not UTF-8 (byte 0xe9 on line 2002)" in message
    assert "Latin-1" in message and "save it again as CSV UTF-8" in message
