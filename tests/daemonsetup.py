"""Configs and music folders for the daemon tests, every file under the test's ``tmp_path``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.config import Config, parse_config
from appliance.demo import Piece, write_piece
from appliance.music.library import Library

Sections = Mapping[str, Mapping[str, Any]]


def daemon_config(tmp_path: Path, *layers: Sections) -> Config:
    """The library, state and event files under ``tmp_path``, dummy audio, the match strategy;
    each layer then overrides the keys it names, section by section, later layers winning."""
    data: dict[str, dict[str, Any]] = {
        "library": {"music_dir": str(tmp_path / "music"),
                    "database": str(tmp_path / "library.sqlite3"), "rescan_s": 0},
        "audio": {"output": "dummy"},
        "rules": {"strategy": "match"},
        "daemon": {"state_file": str(tmp_path / "state.json"),
                   "events": str(tmp_path / "events.jsonl")},
    }
    for layer in layers:
        for name, values in layer.items():
            data[name] = {**data.get(name, {}), **values}
    return parse_config(data)


def write_music(tmp_path: Path, *pieces: Piece) -> dict[str, str]:
    """Write the pieces into the music folder and scan them; title -> path."""
    folder = tmp_path / "music"
    folder.mkdir(exist_ok=True)
    paths = {p.title: str(write_piece(folder, p)) for p in pieces}
    with Library(tmp_path / "library.sqlite3") as library:
        library.scan(folder)
    return paths
