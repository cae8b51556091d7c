"""The music library: a SQLite (WAL) index of the music folder, scanned incrementally.

A scan walks the folder (symlinks followed, loops and unreadable folders noted and skipped),
re-reads only files whose size or mtime changed, records unreadable files with the reason
(never fatal), and drops rows of files that are gone. Valence and energy set by hand or by a
CSV import live in their own table, so they win over the files' tags and survive rescans.
Estimates from the audio (``appliance.music.estimate``) live in a third table with the file's
size, mtime and the model's version; they fill in only what no tag, import or hand set gives,
and count only while the file is unchanged. Each track says where its valence came from
(``source``: tag, import, manual or estimated). Older databases gain the new column and table
in place when opened (ALTER TABLE, CREATE TABLE IF NOT EXISTS; nothing is rebuilt).

A file name that is not valid UTF-8 (old rips, FAT USB sticks) reaches Python as a str with
surrogate escapes; it is stored as its raw bytes (a BLOB in the path column), so it comes
back as the same str and plays; ``shown()`` gives a printable form for reports.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import LibraryError
from appliance.music.matching import ImportReport, match_rows, read_exportify
from appliance.music.store import Store
from appliance.music.tags import read_tags
from appliance.music.walk import find_audio

log = logging.getLogger(__name__)

#: ``progress(done, total, path)`` is called after each file a scan looks at.
Progress = Callable[[int, int, str], None]
_BATCH = 200  # rows per transaction: other readers see progress, a crash loses little

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    title TEXT NOT NULL, artist TEXT NOT NULL, duration_s REAL NOT NULL,
    valence REAL, energy REAL, unplayable TEXT);
CREATE TABLE IF NOT EXISTS overrides (
    path TEXT PRIMARY KEY, valence REAL, energy REAL);
CREATE TABLE IF NOT EXISTS estimates (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, model TEXT NOT NULL,
    valence REAL, energy REAL, error TEXT);
"""
# Columns added after the first release: (table, column, declaration), added when missing.
_MIGRATIONS = (("overrides", "source", "TEXT"),)
_SELECT = """
SELECT t.path, t.title, t.artist, t.duration_s,
       COALESCE(o.valence, t.valence, e.valence), COALESCE(o.energy, t.energy, e.energy),
       CASE WHEN o.valence IS NOT NULL THEN COALESCE(o.source, 'manual')
            WHEN t.valence IS NOT NULL THEN 'tag'
            WHEN e.valence IS NOT NULL THEN 'estimated' END,
       CASE WHEN o.valence IS NULL AND t.valence IS NULL THEN e.model END
FROM tracks t LEFT JOIN overrides o ON o.path = t.path
LEFT JOIN estimates e ON e.path = t.path AND e.size = t.size AND e.mtime_ns = t.mtime_ns
    AND e.error IS NULL
"""
# Playable tracks missing a tagged, imported or hand-set value, with no estimate for the file
# as it is now by the model given.
_PENDING = """
SELECT t.path FROM tracks t LEFT JOIN overrides o ON o.path = t.path
LEFT JOIN estimates e ON e.path = t.path
WHERE t.unplayable IS NULL
  AND (COALESCE(o.valence, t.valence) IS NULL OR COALESCE(o.energy, t.energy) IS NULL)
  AND (e.path IS NULL OR e.size != t.size OR e.mtime_ns != t.mtime_ns OR e.model != ?)
"""
_UPSERT = """
INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
    title = excluded.title, artist = excluded.artist, duration_s = excluded.duration_s,
    valence = excluded.valence, energy = excluded.energy, unplayable = excluded.unplayable
"""


@dataclass(frozen=True)
class Track:
    """A playable file and what the rules need to know about it (valence/energy 0..1)."""

    path: str
    title: str
    artist: str
    duration_s: float
    valence: float | None
    energy: float | None
    source: str | None = None  # of the valence: "tag", "import", "manual", "estimated"
    model: str | None = None  # the estimating model's version when source is "estimated"


@dataclass(frozen=True)
class ScanReport:
    """What a scan found and did; ``unreadable`` holds ``(path, reason)`` read this time."""

    found: int
    added: int
    updated: int
    unchanged: int
    removed: int
    unreadable: tuple[tuple[str, str], ...]
    folder_problems: tuple[str, ...]
    seconds: float


class Library(Store):
    """The library database; a context manager, safe to share between threads."""

    def __init__(self, database: Path) -> None:
        """Open (creating if needed) the database at ``database``.

        Raises:
            LibraryError: the file cannot be created or is not a usable SQLite database.
        """
        super().__init__(database, "library")
        with self._translated("cannot open the library database"):
            conn = self._connect()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            _migrate(conn)

    def tracks(self) -> list[Track]:
        """Every playable track, by path."""
        with self._db("cannot read the library") as db:
            rows = db.execute(_SELECT + " WHERE t.unplayable IS NULL ORDER BY t.path").fetchall()
        return sorted((_track(row) for row in rows), key=lambda t: t.path)

    def get(self, path: str | Path) -> Track | None:
        """The track at ``path`` (playable or not), or ``None`` when it is not in the library."""
        with self._db("cannot read the library") as db:
            row = db.execute(_SELECT + " WHERE t.path = ?", (_to_db(_key(path)),)).fetchone()
        return _track(row) if row else None

    def unplayable(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file recorded as unreadable or unplayable."""
        with self._db("cannot read the library") as db:
            sql = "SELECT path, unplayable FROM tracks WHERE unplayable IS NOT NULL"
            return sorted((_from_db(p), str(why)) for p, why in db.execute(sql))

    def mark_unplayable(self, path: str | Path, why: str) -> None:
        """Leave ``path`` out of ``tracks()`` until the file changes (e.g. VLC failed on it)."""
        with self._db("cannot update the library") as db, db:
            sql = "UPDATE tracks SET unplayable = ? WHERE path = ?"
            cursor = db.execute(sql, (why, _to_db(_key(path))))
        if cursor.rowcount == 0:
            log.warning("%s: not in the library, cannot mark it unplayable", path)
        else:
            log.info("%s: marked unplayable: %s", path, why)

    def set_tags(self, path: str | Path, valence: float | None, energy: float | None) -> Track:
        """Set a track's valence and/or energy (``None`` keeps the current value).

        The values win over the file's tags and survive rescans; the file is not changed.

        Raises:
            LibraryError: the path is not in the library or a value is outside 0..1.
        """
        for name, value in (("valence", valence), ("energy", energy)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise LibraryError(f"{name} must be between 0 and 1, not {value}")
        track = self.get(path)
        if track is None and not os.path.exists(path):
            raise LibraryError(f"{path}: no such file")
        if track is None:
            raise LibraryError(f"{path}: not in the library; run `moodbox library scan` first")
        self._write_overrides([(track.path, valence, energy)], "manual")
        updated = self.get(track.path)
        assert updated is not None
        return updated

    def import_csv(self, path: Path, dry_run: bool = False) -> ImportReport:
        """Set valence and energy from an Exportify CSV, matching by artist and title.

        Args:
            path: the CSV (columns ``Track Name``, ``Artist Name(s)``, ``Valence``, ``Energy``).
            dry_run: report what would match without changing the library.

        Raises:
            LibraryError: the CSV cannot be read or lacks a column, or the database fails.
        """
        rows, invalid = read_exportify(Path(path))
        with self._db("cannot read the library") as db:
            known = [(_from_db(p), t, a)
                     for p, t, a in db.execute("SELECT path, title, artist FROM tracks")]
        matched, ambiguous, unmatched = match_rows(rows, known)
        if not dry_run:
            self._write_overrides([(m.path, m.row.valence, m.row.energy) for m in matched],
                                  "import")
        log.info("import %s: %d matched, %d ambiguous, %d unmatched, %d invalid", path,
                 len(matched), len(ambiguous), len(unmatched), len(invalid))
        return ImportReport(
            tuple(matched), tuple(ambiguous), tuple(unmatched), tuple(invalid), not dry_run
        )

    def scan(self, music_dir: Path, progress: Progress | None = None) -> ScanReport:
        """Bring the library up to date with ``music_dir`` (see the module docstring).

        Raises:
            LibraryError: ``music_dir`` is not a readable folder (the library is left as it
                was), or the database fails.
        """
        started = time.monotonic()
        root = Path(music_dir).expanduser().absolute()
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            raise LibraryError(f"{root}: music folder not found or not readable")
        folder_problems: list[str] = []
        files = sorted(str(p) for p in find_audio(root, folder_problems))
        with self._db("cannot read the library") as db:
            known = {_from_db(p): (s, m)
                     for p, s, m in db.execute("SELECT path, size, mtime_ns FROM tracks")}
        counts, unreadable = self._update(files, known, progress)
        gone = sorted(set(known) - set(files))
        with self._db("cannot update the library") as db, db:
            db.executemany("DELETE FROM tracks WHERE path = ?", [(_to_db(p),) for p in gone])
            db.execute("DELETE FROM estimates WHERE path NOT IN (SELECT path FROM tracks)")
        report = ScanReport(len(files), counts[0], counts[1], counts[2], len(gone),
                            tuple(unreadable), tuple(folder_problems), time.monotonic() - started)
        log.info("scan %s: %d files, %d added, %d updated, %d removed, %d unreadable in %.1f s",
                 root, report.found, report.added, report.updated, report.removed,
                 len(report.unreadable), report.seconds)
        return report

    def _update(
        self, files: list[str], known: dict[str, tuple[int, int]], progress: Progress | None
    ) -> tuple[list[int], list[tuple[str, str]]]:
        """Read new and changed files in batches; returns (added, updated, unchanged) counts."""
        counts, unreadable, batch = [0, 0, 0], [], []
        for done, path in enumerate(files, 1):
            row = _read_row(path, known.get(path))
            if row is None:
                counts[2] += 1
            else:
                counts[0 if path not in known else 1] += 1
                batch.append((_to_db(path), *row[1:]))
                if row[-1] is not None:
                    unreadable.append((path, str(row[-1])))
            if len(batch) >= _BATCH or (done == len(files) and batch):
                with self._db("cannot update the library") as db, db:
                    db.executemany(_UPSERT, batch)
                batch = []
            if progress is not None:
                progress(done, len(files), path)
        return counts, unreadable

    def pending_estimates(self, model: str) -> list[str]:
        """Paths of playable tracks to estimate with ``model`` (see ``_PENDING``), by path."""
        with self._db("cannot read the library") as db:
            return sorted(_from_db(p) for (p,) in db.execute(_PENDING, (model,)))

    def store_estimate(self, path: str, model: str, valence: float | None,
                       energy: float | None, error: str | None = None) -> None:
        """Record an estimate, or why there is none (not retried until the file or model
        changes), against the file's size and mtime as the library last read them."""
        sql = """INSERT INTO estimates SELECT path, size, mtime_ns, ?, ?, ?, ? FROM tracks
                 WHERE path = ? ON CONFLICT(path) DO UPDATE SET size = excluded.size,
                 mtime_ns = excluded.mtime_ns, model = excluded.model,
                 valence = excluded.valence, energy = excluded.energy, error = excluded.error"""
        with self._db("cannot update the library") as db, db:
            db.execute(sql, (model, valence, energy, error, _to_db(_key(path))))

    def _write_overrides(
        self, rows: list[tuple[str, float | None, float | None]], source: str
    ) -> None:
        sql = """INSERT INTO overrides (path, valence, energy, source) VALUES (?, ?, ?, ?)
                 ON CONFLICT(path) DO UPDATE SET
                 valence = COALESCE(excluded.valence, valence),
                 energy = COALESCE(excluded.energy, energy), source = excluded.source"""
        with self._db("cannot update the library") as db, db:
            db.executemany(sql, [(_to_db(p), *rest, source) for p, *rest in rows])


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older database lacks, in place."""
    for table, column, declaration in _MIGRATIONS:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            log.info("library: added %s.%s", table, column)


def _key(path: str | Path) -> str:
    """The form paths are stored in: absolute, as found under the music folder."""
    return os.path.abspath(os.path.expanduser(str(path)))


def _to_db(path: str) -> str | bytes:
    """``path`` as stored: text, or its raw bytes when the name is not valid UTF-8."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes: SQLite text must be UTF-8
        return os.fsencode(path)
    return path


def _from_db(value: str | bytes) -> str:
    """A stored path back as the str that ``os`` functions and VLC take."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _track(row: tuple[object, ...]) -> Track:
    return Track(_from_db(row[0]), *row[1:])  # type: ignore[arg-type]


def shown(path: str) -> str:
    """``path`` printable on any terminal: bytes that are not UTF-8 appear as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _read_row(path: str, known: tuple[int, int] | None) -> tuple[object, ...] | None:
    """A ``tracks`` row for ``path``, or ``None`` when it is unchanged since the last scan."""
    try:
        stat = os.stat(path)
        size, mtime = stat.st_size, stat.st_mtime_ns
    except OSError as exc:  # e.g. a dangling symlink: recorded once, not again each scan
        failed = (path, -1, 0, shown(Path(path).stem), "", 0.0, None, None,
                  f"cannot open: {exc.strerror}")
        return None if known == (-1, 0) else failed
    if known == (size, mtime):
        return None
    try:
        info = read_tags(Path(path))
    except LibraryError as exc:
        log.info("%s", exc)  # the scan's report lists it; INFO keeps it once on a terminal
        why = str(exc).removeprefix(f"{path}: ")
        return (path, size, mtime, shown(Path(path).stem), "", 0.0, None, None, why)
    # A title taken from a non-UTF-8 file name is made printable (STATUS=, state file).
    return (path, size, mtime, shown(info.title), shown(info.artist), info.duration_s,
            info.valence, info.energy, None)
