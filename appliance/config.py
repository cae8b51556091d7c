"""Configuration: the shipped ``defaults.toml`` overlaid by one TOML file, checked at once.

The schema (``appliance.config_schema``, re-exported here) is frozen dataclasses whose attribute
names are the TOML keys. Every problem in a file (unknown keys with "did you mean", wrong
types, values out of range) is collected and raised together as one ``ConfigError``.

Paths are ``Path`` objects with ``~`` expanded; a relative path in a config file is taken
relative to that file's folder. Optional paths whose TOML value is ``""`` (``camera.debug_dir``,
``mood.model``, ``daemon.events``) are ``None``. ``rules.targets`` and ``rules.moods`` are
read-only mappings from each of ``LABELS`` to a ``Target``.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

from appliance.config_schema import (
    Affect,
    AudioConfig,
    CameraConfig,
    Config,
    DaemonConfig,
    GpioConfig,
    HistoryConfig,
    LearningConfig,
    LibraryConfig,
    MoodConfig,
    RulesConfig,
    Target,
)
from appliance.errors import ConfigError
from appliance.mood.reading import LABELS

__all__ = [
    "DEFAULT_PATH",
    "AudioConfig",
    "CameraConfig",
    "Config",
    "DaemonConfig",
    "GpioConfig",
    "HistoryConfig",
    "LearningConfig",
    "LibraryConfig",
    "MoodConfig",
    "RulesConfig",
    "Target",
    "default_data",
    "dump_config",
    "load_config",
    "parse_config",
]

#: Read by ``load_config(None)`` when it exists.
DEFAULT_PATH = Path("/etc/moodbox/moodbox.toml")


def load_config(path: Path | None = None) -> Config:
    """Load the effective configuration.

    Args:
        path: a TOML file overriding the shipped defaults; ``None`` reads ``DEFAULT_PATH``
            when it exists, else uses the defaults alone.

    Returns:
        The checked, frozen configuration.

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, or any key or value is bad;
            ``problems`` lists every one.
    """
    if path is None:
        if not DEFAULT_PATH.exists():
            return parse_config({})
        path = DEFAULT_PATH
    path = Path(path).expanduser().absolute()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found; check --config"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(data, origin=str(path), base_dir=path.parent)


def parse_config(
    data: Mapping[str, Any], origin: str = "config", base_dir: Path | None = None
) -> Config:
    """Check ``data`` (parsed TOML) overlaid on the shipped defaults and build a ``Config``.

    Args:
        data: sections to override, e.g. ``{"camera": {"source": "files:pics"}}``.
        origin: the name problems are reported under (usually the file's path).
        base_dir: folder that relative paths in ``data`` are relative to (``None`` = as given).

    Raises:
        ConfigError: listing every unknown key and bad value at once.
    """
    defaults = default_data()
    problems = [f"{origin}: {p}" for p in _unknown_keys(data, defaults, "")]
    merged = _merge(defaults, data)
    sections = {}
    for section in fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        raw = merged[section.name]
        if not isinstance(raw, Mapping):
            problems.append(f"{origin}: [{section.name}] must be a table, not {_show(raw)}")
            continue
        built = _build(cls, raw, section.name, base_dir, problems, origin)
        sections[section.name] = built
    problems += [f"{origin}: {p}" for p in _clashes(sections)]
    if problems:
        raise ConfigError(problems)
    return Config(**sections)


def _clashes(sections: Mapping[str, Any]) -> list[str]:
    """Problems between sections: the LED and the button cannot share one pin."""
    camera, gpio = sections.get("camera"), sections.get("gpio")
    if camera is None or gpio is None or camera.led_pin < 0:
        return []
    if camera.led_pin == gpio.button_pin:
        return [f"camera.led_pin = gpio.button_pin = {gpio.button_pin}: the LED and the button "
                "need a pin each (defaults: LED 27, button 17; -1 = none)"]
    return []


def default_data() -> dict[str, Any]:
    """The shipped ``defaults.toml``, parsed."""
    text = resources.files("appliance").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on top, tables merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _unknown_keys(data: Mapping[str, Any], known: Mapping[str, Any], prefix: str) -> list[str]:
    """One problem per key in ``data`` that the defaults do not have, with a suggestion."""
    problems = []
    for key, value in data.items():
        name = f"{prefix}{_key(key)}"
        if key not in known:
            what = "key" if prefix else "section"
            problems.append(f"unknown {what} {name}{_suggest(key, known, prefix)}")
        elif isinstance(value, Mapping) and isinstance(known[key], Mapping):
            problems += _unknown_keys(value, known[key], f"{name}.")
    return problems


def _suggest(key: str, known: Mapping[str, Any], prefix: str) -> str:
    close = difflib.get_close_matches(key, [str(k) for k in known], n=1, cutoff=0.6)
    if close:
        return f"; did you mean {prefix}{close[0]}?"
    if prefix.count(".") == 1:  # a key put in the wrong section
        for section, table in default_data().items():
            if isinstance(table, Mapping) and key in table:
                return f"; did you mean {section}.{key}?"
    return "; see `moodbox config` for every key"


def _build(
    cls: type, raw: Mapping[str, Any], name: str, base_dir: Path | None,
    problems: list[str], origin: str,
) -> Any:
    """An instance of the section dataclass ``cls``, or ``None`` after adding problems."""
    values: dict[str, Any] = {}
    count = len(problems)
    for f in fields(cls):
        key, value = f"{name}.{f.name}", raw[f.name]
        if str(f.type) in _TABLES:
            table = _TABLES[str(f.type)]
            values[f.name] = _build_targets(value, key, problems, origin, table)
            continue
        converted, why = _CONVERTERS[str(f.type)](value, base_dir)
        check = f.metadata["check"]
        if why is None and check is not None:
            why = check(converted)
        if why is not None:
            problems.append(f"{origin}: {key} = {_show(value)}: {why} ({f.metadata['hint']})")
        values[f.name] = converted
    return cls(**values) if len(problems) == count else None


#: Tables with one entry per emotion: the field's type -> the entry's dataclass.
_TABLES: dict[str, type] = {"Mapping[str, Target]": Target, "Mapping[str, Affect]": Affect}


def _build_targets(
    raw: Any, name: str, problems: list[str], origin: str, table: type = Target
) -> Mapping[str, Any] | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{origin}: {name} must be a table of emotions, not {_show(raw)}")
        return None
    out = {}
    for label in LABELS:
        entry = raw[label]
        if isinstance(entry, Mapping):
            out[label] = _build(table, entry, f"{name}.{label}", None, problems, origin)
        else:
            keys = " = .., ".join(f.name for f in fields(table))
            why = f"must be {{ {keys} = .. }}"
            problems.append(f"{origin}: {name}.{label} = {_show(entry)}: {why}")
    return types.MappingProxyType(out)


def _to_bool(value: Any, _: Path | None) -> tuple[Any, str | None]:
    return value, None if isinstance(value, bool) else "expected true or false"


def _to_int(value: Any, _: Path | None) -> tuple[Any, str | None]:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return value, None if ok else "expected a whole number"


def _to_float(value: Any, _: Path | None) -> tuple[Any, str | None]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    return value, "expected a number"


def _to_str(value: Any, _: Path | None) -> tuple[Any, str | None]:
    return value, None if isinstance(value, str) else "expected a string"


def _to_optional_path(value: Any, base_dir: Path | None) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, "expected a path string"
    if not value:
        return None, None
    path = Path(value).expanduser()
    return (base_dir / path if base_dir is not None else path), None


def _to_path(value: Any, base_dir: Path | None) -> tuple[Any, str | None]:
    path, why = _to_optional_path(value, base_dir)
    return path, why if path is not None or why else "must not be empty"


def _to_source(value: Any, base_dir: Path | None) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, "expected a string"
    kind, sep, arg = value.partition(":")
    # A webcam index or picamera2 stays as it is; a folder or video file is a path.
    if kind not in ("files", "opencv") or not arg or arg.isdigit():
        return value, None
    path = Path(arg).expanduser()
    return f"{kind}{sep}{base_dir / path if base_dir is not None else path}", None


_CONVERTERS: dict[str, Callable[[Any, Path | None], tuple[Any, str | None]]] = {
    "bool": _to_bool,
    "int": _to_int,
    "float": _to_float,
    "str": _to_str,
    "Path": _to_path,
    "Path | None": _to_optional_path,
    "CameraSource": _to_source,
}


def dump_config(config: Config) -> str:
    """``config`` as TOML that ``load_config`` reads back to an equal ``Config``."""
    lines: list[str] = []
    for section in fields(config):
        values = getattr(config, section.name)
        lines.append(f"[{section.name}]")
        tables = []
        for f in fields(values):
            value = getattr(values, f.name)
            if isinstance(value, Mapping):
                tables.append((f.name, value))
            else:
                lines.append(f"{f.name} = {_show(value)}")
        for name, table in tables:
            lines += ["", f"[{section.name}.{name}]"]
            lines += [
                f"{k} = {{ " + ", ".join(f"{f.name} = {getattr(t, f.name)!r}" for f in fields(t))
                + " }"
                for k, t in table.items()
            ]
        lines.append("")
    return "\n".join(lines)


def _key(key: object) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (one line, always)."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text, ensure_ascii=False)


def _show(value: Any) -> str:
    """``value`` as a TOML literal (the way the user wrote it, for messages and dumps)."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_show(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
