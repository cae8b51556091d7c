"""The listening history: plays, mood checks and choices, in the library's SQLite file.

Three tables join today's ``tracks`` and ``overrides`` in the same file, created in place
(``CREATE TABLE IF NOT EXISTS``; later columns by ``ALTER TABLE``, counted in
``PRAGMA user_version``), never by rebuilding it. A play links to the choice that started it,
a choice to the check that led to it, a check to the play it happened in: that chain is what
``appliance.music.learning`` learns from. Numbers and labels only, never an image.

Every write is one committed transaction in WAL mode with ``synchronous=FULL``, so a process
killed at any moment loses no committed row. ``secure_delete`` zeroes erased rows, and
``forget`` ends with ``VACUUM`` and a truncating checkpoint so their bytes leave the file.
With ``history.enabled = false`` no check and no choice is stored, only the plays that the
no-repeat window and the rules' direction need after a restart.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.config import Config
from appliance.config_schema import Affect, HistoryConfig, LearningConfig
from appliance.mood.circumplex import reading_point
from appliance.mood.reading import NO_FACE, UNSURE, MoodReading
from appliance.music.learning import Learned, Observation, learn
from appliance.music.library import Track
from appliance.music.store import Store

log = logging.getLogger(__name__)

TRIGGERS = ("end", "button", "start")
ENDINGS = ("finished", "skipped", "failed", "stopped")
DAY_S = 86400.0

# Each entry brings the schema from version i to i + 1; never edit one, append another.
_MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS plays (
        id INTEGER PRIMARY KEY, path TEXT NOT NULL, valence REAL, energy REAL,
        started REAL NOT NULL, ended REAL, how TEXT, fraction REAL, choice INTEGER);
    CREATE INDEX IF NOT EXISTS plays_started ON plays(started);
    CREATE TABLE IF NOT EXISTS checks (
        id INTEGER PRIMARY KEY, at REAL NOT NULL, cause TEXT NOT NULL, outcome TEXT NOT NULL,
        emotion TEXT, confidence REAL, probabilities TEXT, faces INTEGER, frames INTEGER,
        valence REAL, arousal REAL, play INTEGER);
    CREATE INDEX IF NOT EXISTS checks_at ON checks(at);
    CREATE INDEX IF NOT EXISTS checks_play ON checks(play);
    CREATE TABLE IF NOT EXISTS choices (
        id INTEGER PRIMARY KEY, at REAL NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
        mood_check INTEGER, explored INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS choices_at ON choices(at);
    """,
)
# The reading that chose each play and the last check during it; both must have seen a face
# and decided; failed plays were never heard.
_OBSERVATIONS = """
SELECT p.path, p.valence, p.energy, b.valence, a.valence, p.how, p.fraction
FROM plays p JOIN choices c ON c.id = p.choice JOIN checks b ON b.id = c.mood_check
JOIN checks a ON a.id = (SELECT id FROM checks WHERE play = p.id AND cause != 'start'
                         ORDER BY at DESC, id DESC LIMIT 1)
WHERE b.outcome = 'reading' AND a.outcome = 'reading' AND p.started >= ?
  AND b.valence IS NOT NULL AND a.valence IS NOT NULL
  AND (p.how IS NULL OR p.how != 'failed')
ORDER BY p.started DESC LIMIT ?
"""


@dataclass(frozen=True)
class Play:
    """One play: ``how`` is ``None`` while it lasts, then one of ``ENDINGS``."""

    id: int
    path: str
    valence: float | None
    energy: float | None
    started: float
    ended: float | None
    how: str | None
    fraction: float | None
    choice: int | None


@dataclass(frozen=True)
class Check:
    """One mood check: ``outcome`` is reading, no_face, unsure or failed."""

    id: int
    at: float
    cause: str
    outcome: str
    emotion: str | None
    confidence: float | None
    probabilities: Mapping[str, float]
    faces: int
    frames: int
    valence: float | None
    arousal: float | None
    play: int | None


@dataclass(frozen=True)
class ChoiceRow:
    """One choice of a next track, the check that led to it and the rules' reason."""

    id: int
    at: float
    path: str
    reason: str
    mood_check: int | None
    explored: bool


def outcome_of(reading: MoodReading | None) -> str:
    """``reading``, ``no_face``, ``unsure`` or ``failed`` (no reading at all)."""
    if reading is None:
        return "failed"
    return {NO_FACE: "no_face", UNSURE: "unsure"}.get(reading.emotion, "reading")


class History(Store):
    """The history tables of the library database; a context manager, thread-safe.

    Args:
        database: the library's SQLite file (created if missing).
        settings: ``[history]``.
        circumplex: ``mood.circumplex``, for each reading's valence and arousal.
        clock: seconds since the epoch (injected by tests).

    Raises:
        LibraryError: the file cannot be opened or migrated.
    """

    def __init__(self, database: Path, settings: HistoryConfig,
                 circumplex: Mapping[str, Affect], clock: Callable[[], float] = time.time) -> None:
        super().__init__(database, "history")
        self.settings, self.circumplex, self.clock = settings, circumplex, clock
        with self._translated("cannot open the history"):
            conn = self._connect(isolation_level=None)  # autocommit: _transaction opens each
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            _migrate(conn)

    @classmethod
    def from_config(cls, config: Config) -> History:
        """The history in the configured library's database."""
        return cls(config.library.database, config.history, config.mood.circumplex)

    # ---- writing --------------------------------------------------------------------

    def start_play(self, track: Track, choice: int | None = None, at: float | None = None) -> int:
        """Record that ``track`` started (chosen by ``choice``); returns the play's id."""
        row = (track.path, track.valence, track.energy, self._now(at), choice)
        sql = "INSERT INTO plays (path, valence, energy, started, choice) VALUES (?, ?, ?, ?, ?)"
        return self._insert(sql, row)

    def end_play(self, play: int, how: str, fraction: float, at: float | None = None) -> None:
        """Record how play ``play`` ended (one of ``ENDINGS``) and the fraction played."""
        if how not in ENDINGS:
            raise ValueError(f"how must be one of {ENDINGS}, not {how!r}")
        fraction = max(0.0, min(1.0, fraction))
        sql = "UPDATE plays SET ended = ?, how = ?, fraction = ? WHERE id = ? AND how IS NULL"
        self._write(sql, (self._now(at), how, fraction, play))

    def record_check(self, reading: MoodReading | None, cause: str, play: int | None = None,
                     at: float | None = None) -> int | None:
        """Record a mood check (``None`` = it failed); ``None`` when moods are not stored."""
        if cause not in TRIGGERS:
            raise ValueError(f"cause must be one of {TRIGGERS}, not {cause!r}")
        if not self.settings.enabled:
            return None
        point = reading_point(reading, self.circumplex)
        valence, arousal = point if point is not None else (None, None)
        probabilities = {k: round(float(v), 4) for k, v in (reading.probabilities.items()
                                                            if reading else ())}
        row = (self._now(at), cause, outcome_of(reading),
               reading.emotion if reading else None, reading.confidence if reading else None,
               json.dumps(probabilities, separators=(",", ":")) if probabilities else None,
               reading.faces if reading else 0, reading.frames if reading else 0,
               valence, arousal, play)
        sql = """INSERT INTO checks (at, cause, outcome, emotion, confidence, probabilities,
                 faces, frames, valence, arousal, play) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
        return self._insert(sql, row)

    def record_choice(self, path: str, reason: str, mood_check: int | None = None,
                      explored: bool = False, at: float | None = None) -> int | None:
        """Record a choice and its reason; ``None`` when moods are not stored."""
        if not self.settings.enabled:
            return None
        sql = "INSERT INTO choices (at, path, reason, mood_check, explored) VALUES (?, ?, ?, ?, ?)"
        return self._insert(sql, (self._now(at), path, reason, mood_check, int(explored)))

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than ``history.keep_days``; returns how many went."""
        return self._delete(self._now(now) - self.settings.keep_days * DAY_S, vacuum=False)

    def forget(self, before: float | None = None) -> int:
        """Erase every row older than ``before`` (``None`` = all) for good, with a VACUUM.

        What was learned goes with them: it is computed from these rows only.
        """
        return self._delete(float("inf") if before is None else before, vacuum=True)

    # ---- reading --------------------------------------------------------------------

    def plays(self, since: float = 0.0) -> list[Play]:
        """Plays started at or after ``since``, oldest first."""
        sql = "SELECT * FROM plays WHERE started >= ? ORDER BY started, id"
        return [Play(*row) for row in self._read(sql, (since,))]

    def checks(self, since: float = 0.0) -> list[Check]:
        """Mood checks at or after ``since``, oldest first."""
        sql = "SELECT * FROM checks WHERE at >= ? ORDER BY at, id"
        return [_check(row) for row in self._read(sql, (since,))]

    def choices(self, since: float = 0.0) -> list[ChoiceRow]:
        """Choices at or after ``since``, oldest first."""
        sql = "SELECT * FROM choices WHERE at >= ? ORDER BY at, id"
        rows = self._read(sql, (since,))
        return [ChoiceRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def recent_paths(self, limit: int) -> list[str]:
        """The paths of the last ``limit`` plays that were heard, oldest first."""
        sql = """SELECT path FROM plays WHERE how IS NULL OR how != 'failed'
                 ORDER BY started DESC, id DESC LIMIT ?"""
        return [str(p) for (p,) in self._read(sql, (limit,))][::-1]

    def observations(self, since: float = 0.0, limit: int = -1) -> list[Observation]:
        """One ``Observation`` per play with a decided reading before and after it, oldest
        first; ``limit`` keeps only the newest ones (-1: all)."""
        out = []
        for path, valence, energy, before, after, how, fraction in self._read(
                _OBSERVATIONS, (since, limit)):
            cut = how in ("skipped", "stopped")
            weight = float(fraction or 0.0) if cut else 1.0
            out.append(Observation(path, valence, energy, before, after, weight))
        return out[::-1]  # read newest first, for the limit

    def learned(self, settings: LearningConfig, limit: int = -1) -> Learned:
        """What the newest ``limit`` observations (-1: all) teach about each track."""
        return learn(self.observations(limit=limit), settings.prior_plays, settings.regions)

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {t: int(self._read(f"SELECT COUNT(*) FROM {t}", ())[0][0])
                for t in ("plays", "checks", "choices")}

    # ---- plumbing -------------------------------------------------------------------

    def _now(self, at: float | None) -> float:
        return self.clock() if at is None else at

    def _insert(self, sql: str, row: tuple[Any, ...]) -> int:
        with self._db("cannot write the history") as db, _transaction(db):
            cursor = db.execute(sql, row)
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def _write(self, sql: str, row: tuple[Any, ...]) -> None:
        with self._db("cannot write the history") as db, _transaction(db):
            db.execute(sql, row)

    def _read(self, sql: str, row: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._db("cannot read the history") as db:
            return db.execute(sql, row).fetchall()

    def _delete(self, before: float, vacuum: bool) -> int:
        with self._db("cannot erase the history") as db:
            with _transaction(db):
                gone = sum(db.execute(sql, (before,)).rowcount for sql in (
                    "DELETE FROM checks WHERE at < ?", "DELETE FROM choices WHERE at < ?",
                    "DELETE FROM plays WHERE started < ?"))
            if vacuum:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("history: %d rows erased%s", gone, " and the file vacuumed" if vacuum else "")
        return gone


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One committed transaction (the connection is in autocommit mode otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the history tables to the latest version, in place, each step committed."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
        db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")
        log.info("history: database schema now at version %d", number)


def _check(row: tuple[Any, ...]) -> Check:
    values = list(row)
    values[6] = json.loads(values[6]) if values[6] else {}
    return Check(*values)
