"""The SQLite plumbing the library and the history share (``appliance.music.store``), through
both: an unusable file and a closed store are one-line ``LibraryError``s naming which."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.config import parse_config
from appliance.errors import LibraryError
from appliance.music.history import History
from appliance.music.library import Library
from appliance.music.store import Store

CONFIG = parse_config({})


def _history(db: Path) -> History:
    return History(db, CONFIG.history, CONFIG.mood.circumplex)


STORES = [  # how to open one, what its errors call it, a read that needs the connection
    (Library, "library database", lambda store: store.tracks(), "library"),
    (_history, "history", lambda store: store.counts(), "history"),
]


@pytest.mark.parametrize(("open_store", "opening", "read", "name"), STORES)
def test_unusable_and_closed_databases_are_library_errors(
        tmp_path: Path, open_store: Callable[[Path], Store], opening: str,
        read: Callable[[Store], object], name: str) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database at all, not even close" * 100)
    with pytest.raises(LibraryError, match=rf"bad\.sqlite3: cannot open the {opening}"):
        open_store(bad)
    store = open_store(tmp_path / "ok.sqlite3")
    store.close()
    store.close()  # a second close is harmless
    with pytest.raises(LibraryError, match=f"the {name} is closed"):
        read(store)


@pytest.mark.parametrize(("open_store", "read", "name"),
                         [(open_store, read, name) for open_store, _, read, name in STORES])
def test_a_store_closes_when_its_block_ends(
        tmp_path: Path, open_store: Callable[[Path], Store],
        read: Callable[[Store], object], name: str) -> None:
    with open_store(tmp_path / "db.sqlite3") as store:
        read(store)
    with pytest.raises(LibraryError, match=f"the {name} is closed"):
        read(store)
