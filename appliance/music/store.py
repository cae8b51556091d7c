"""One SQLite file shared between threads: the connection behind a lock, its errors translated.

The library and the history keep their tables in the same database; this is the plumbing they
share, so that opening, closing and the one error type stay alike for both.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from appliance.errors import LibraryError


class Store:
    """A SQLite connection shared between threads behind a lock; a context manager.

    Args:
        database: the SQLite file.
        name: what the store is called in errors ("the library is closed").
    """

    def __init__(self, database: Path, name: str) -> None:
        self.database = Path(database)
        self._name = name
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; safe to call more than once."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connect(self, **options: Any) -> sqlite3.Connection:
        """Open the file (its folder made if missing); call inside ``_translated``. The lock,
        not sqlite3's thread check, keeps the threads apart."""
        self.database.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.database, check_same_thread=False, timeout=10, **options)
        return self._conn

    @contextmanager
    def _db(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with its errors translated."""
        with self._lock, self._translated(doing):
            if self._conn is None:
                raise LibraryError(f"{self.database}: the {self._name} is closed")
            yield self._conn

    def _translated(self, doing: str) -> AbstractContextManager[None]:
        return _sqlite_errors(self.database, doing)


@contextmanager
def _sqlite_errors(database: Path, doing: str) -> Iterator[None]:
    """SQLite and OS errors inside as one ``LibraryError`` naming ``database`` and ``doing``
    (the one place where they are translated, for the library and the history alike)."""
    try:
        yield
    except LibraryError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise LibraryError(f"{database}: {doing}: {exc}") from exc
