"""Matching rows of an Exportify CSV (Spotify audio features) to local tracks by artist and title.

Names are normalised before comparing: case folded, accents stripped, "feat. X" and bracketed
or dashed suffixes ("(Remastered 2011)", "[Live]", " - 2011 Remaster") removed, punctuation
dropped. A row matches a track when the titles are equal and they share an artist; several such
tracks make the row ambiguous unless exactly one has the same set of artists.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import LibraryError

#: The Exportify columns the import reads.
COLUMNS = ("Track Name", "Artist Name(s)", "Valence", "Energy")

_FEAT = re.compile(r"\s*[(\[]?\b(feat\.?|ft\.|featuring)\s.*$", re.IGNORECASE)
_BRACKETS = re.compile(r"\s*(\([^)]*\)|\[[^\]]*\])")
_DASH_SUFFIX = re.compile(r"\s+-\s+.*$")
_ARTIST_SPLIT = re.compile(r"\s*(?:,|;|/|&|\bx\b|\band\b)\s*", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class CsvRow:
    """One usable row: its line number in the file, names as written, and the features."""

    line: int
    title: str
    artists: str
    valence: float
    energy: float

    def describe(self) -> str:
        """``line N: Artist - Title`` for reports."""
        return f"line {self.line}: {self.artists} - {self.title}"


@dataclass(frozen=True)
class Match:
    """A row and the library path it matched."""

    row: CsvRow
    path: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows matched (and applied unless a dry run), ambiguous, unmatched."""

    matched: tuple[Match, ...]
    ambiguous: tuple[tuple[CsvRow, tuple[str, ...]], ...]
    unmatched: tuple[CsvRow, ...]
    invalid: tuple[str, ...]
    applied: bool


def fold(text: str) -> str:
    """Case-folded, accent-free, punctuation-free, single-spaced ``text``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain).split())


def normalise_title(title: str) -> str:
    """The comparable core of a title, without features, brackets or dashed suffixes."""
    core = _FEAT.sub("", title)
    core = _BRACKETS.sub("", core)
    core = _DASH_SUFFIX.sub("", core)
    return fold(core) or fold(title)


def split_artists(artists: str) -> frozenset[str]:
    """The set of normalised artist names in an artist field ("A, B", "A; B", "A feat. B")."""
    marked = re.sub(r"\b(?:feat\.?|ft\.|featuring)\s", "\0", artists, flags=re.IGNORECASE)
    main, _, featured = marked.partition("\0")
    names = _ARTIST_SPLIT.split(main) + _ARTIST_SPLIT.split(featured)
    return frozenset(n for n in (fold(name) for name in names) if n)


def read_exportify(path: Path) -> tuple[list[CsvRow], list[str]]:
    """Read the rows of an Exportify CSV.

    Returns:
        The usable rows and one line per unusable row (bad number, empty name).

    Raises:
        LibraryError: the file cannot be read, is not CSV, or lacks a needed column.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
            handle.seek(0)
            # Exportify writes commas; spreadsheets in many locales save with semicolons.
            delimiter = ";" if header.count(";") > header.count(",") else ","
            reader = csv.DictReader(handle, delimiter=delimiter)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise LibraryError(
                    f"{path}: not an Exportify CSV: missing column(s) {', '.join(missing)}"
                )
            return _parse_rows(reader)
    except UnicodeDecodeError as exc:
        raise LibraryError(_encoding_problem(path, exc)) from exc
    except (OSError, csv.Error) as exc:
        raise LibraryError(f"{path}: cannot read the CSV: {exc}") from exc


def _encoding_problem(path: Path, exc: UnicodeDecodeError) -> str:
    """Where the file stops being UTF-8, and what it probably is instead."""
    data = path.read_bytes()  # the decoder's error covers only the chunk it was reading
    try:
        data.decode("utf-8-sig")
        start = 0
    except UnicodeDecodeError as whole:
        start = whole.start
    line = data.count(b"\n", 0, start) + 1
    byte = data[start : start + 1].hex() or exc.object[exc.start : exc.start + 1].hex()
    return (f"{path}: not UTF-8 (byte 0x{byte} on line {line}): probably Latin-1 or "
            "Windows-1252 from a spreadsheet; save it again as CSV UTF-8")


def _parse_rows(reader: csv.DictReader[str]) -> tuple[list[CsvRow], list[str]]:
    rows, invalid = [], []
    for record in reader:
        line = reader.line_num
        title, artists = (record.get(c) or "" for c in COLUMNS[:2])
        try:
            # A decimal comma ("0,72") comes with semicolon-separated files.
            valence, energy = (float((record.get(c) or "nan").replace(",", "."))
                               for c in COLUMNS[2:])
        except ValueError:
            valence = energy = float("nan")
        if not (title.strip() and artists.strip()):
            invalid.append(f"line {line}: empty track or artist name")
        elif not (0 <= valence <= 1 and 0 <= energy <= 1):
            invalid.append(f"line {line}: Valence and Energy must be numbers from 0 to 1")
        else:
            rows.append(CsvRow(line, title.strip(), artists.strip(), valence, energy))
    return rows, invalid


def match_rows(
    rows: Iterable[CsvRow], tracks: Sequence[tuple[str, str, str]]
) -> tuple[list[Match], list[tuple[CsvRow, tuple[str, ...]]], list[CsvRow]]:
    """Match rows to ``tracks`` given as ``(path, title, artist)``.

    Returns:
        ``(matched, ambiguous with their candidate paths, unmatched)``.
    """
    by_title: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for path, title, artist in tracks:
        by_title.setdefault(normalise_title(title), []).append((path, split_artists(artist)))
    matched, ambiguous, unmatched = [], [], []
    for row in rows:
        artists = split_artists(row.artists)
        found = [(p, a) for p, a in by_title.get(normalise_title(row.title), []) if a & artists]
        exact = [p for p, a in found if a == artists]
        if len(found) == 1 or len(exact) == 1:
            matched.append(Match(row, found[0][0] if len(found) == 1 else exact[0]))
        elif found:
            ambiguous.append((row, tuple(sorted(p for p, _ in found))))
        else:
            unmatched.append(row)
    return matched, ambiguous, unmatched
