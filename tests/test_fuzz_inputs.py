"""Fuzz what a person hands the box (issue 11, item 19): the config file and the Exportify CSV.

Whatever comes in (wrong types, numbers out of range, inf and nan, broken TOML, bytes that are
not UTF-8, unknown keys, nested tables where values belong), the answer is a working config
or a ``ConfigError`` / ``LibraryError`` whose lines are one line each, never another
exception. Derandomized with bounded examples, so CI sees the same cases every run.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.config import load_config, parse_config
from appliance.errors import ConfigError, LibraryError
from appliance.music.library import Library
from appliance.music.matching import COLUMNS, read_exportify

FUZZ = settings(derandomize=True, max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
DEFAULTS = tomllib.loads(
    resources.files("appliance").joinpath("defaults.toml").read_text(encoding="utf-8"))
SECTIONS = sorted(DEFAULTS)
KEYS = sorted({(s, k) for s, table in DEFAULTS.items() for k in table})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "files:", "picamera", "iso", "0", "-1", "inf", "1e308", "..", "/"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def _one_line_each(exc: ConfigError) -> None:
    assert exc.problems
    for problem in exc.problems:
        assert problem and "\n" not in problem and "Traceback" not in problem


def _parse(data: dict[str, Any]) -> None:
    try:
        config = parse_config(data)
    except ConfigError as exc:
        _one_line_each(exc)
    else:  # accepted: every number in it is finite
        for section in SECTIONS:
            for value in vars(getattr(config, section)).values():
                if isinstance(value, float):
                    assert math.isfinite(value)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=6))
def test_known_keys_with_any_value(pairs: list[tuple[tuple[str, str], Any]]) -> None:
    data: dict[str, dict[str, Any]] = {}
    for (section, key), value in pairs:
        data.setdefault(section, {})[key] = value
    _parse(data)


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from(SECTIONS), st.text(max_size=10)),
                       values, max_size=4))
def test_any_shape_of_sections(data: dict[str, Any]) -> None:
    _parse(data)


def _load(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "moodbox.toml"
        path.write_bytes(raw)
        try:
            load_config(path)
        except ConfigError as exc:
            _one_line_each(exc)


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_as_the_config_file(raw: bytes) -> None:
    _load(raw)


toml_lines = st.lists(st.one_of(
    st.sampled_from([f"[{s}]" for s in SECTIONS] + ["[", "[[camera]]", "x = ", "= 1", '"']),
    st.builds(lambda k, v: f"{k[1]} = {v}", st.sampled_from(KEYS), st.sampled_from(
        ["1", "-1", "0.5", "1e309", "-inf", "nan", "true", '"x"', "[1, 2]", "{a = 1}",
         "1979-05-27", '"\\u00e9"', "0x10", "1_000", "'", '"unterminated'])),
    st.text(max_size=20)), max_size=8)


@FUZZ
@given(toml_lines, st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_broken_toml_in_any_encoding(lines: list[str], encoding: str) -> None:
    _load("\n".join(lines).encode(encoding, errors="replace"))


def _csv_bytes(rows: list[list[str]], header: list[str], delimiter: str, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


cells = st.one_of(st.text(max_size=12), st.sampled_from(
    ["0.5", "0,7", "-1", "2", "nan", "inf", "", "1e400", "0.5.5", "\x00"]))


@FUZZ
@given(st.lists(st.lists(cells, min_size=0, max_size=6), max_size=6),
       st.lists(st.sampled_from([*COLUMNS, "Other", ""]), max_size=6),
       st.sampled_from([",", ";", "\t"]), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_any_csv_imports_or_says_why_in_one_line(
        rows: list[list[str]], header: list[str], delimiter: str, encoding: str) -> None:
    raw = _csv_bytes(rows, header or list(COLUMNS), delimiter, encoding)
    _import(raw)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_the_csv(raw: bytes) -> None:
    _import(raw)


def _import(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(raw)
        with Library(Path(tmp) / "library.sqlite3") as library:
            try:
                library.import_csv(path, dry_run=True)
                rows, invalid = read_exportify(path)
            except LibraryError as exc:
                assert "\n" not in str(exc) and str(exc)
            else:
                for row in rows:
                    assert 0 <= row.valence <= 1 and 0 <= row.energy <= 1
                assert all("\n" not in line for line in invalid)
