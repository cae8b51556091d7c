"""Events: the messages other threads post to the daemon's queue, and the decision log.

Two kinds live here:

- **Queue events** (frozen dataclasses): the button, VLC's event callbacks, the library scanner
  and signal handlers only ever ``put()`` one of these on the daemon's queue; the daemon's one
  consumer thread dispatches them. Nothing posting an event touches VLC, the camera or the
  model.
- **The decision log** (``EventLog``): every decision the daemon takes becomes one record,
  ``{"t": seconds since start, "event": name, ...fields}``. Each record is one INFO log line
  and, when a path is given, one JSON line in the events file; listeners (the demo's printer)
  get it too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

#: The names an ``EventLog`` record may carry, as issue 4 lists them.
EVENT_NAMES = frozenset(
    {
        "ready",
        "track_started",
        "camera_on",
        "camera_off",
        "mood",
        "track_chosen",
        "button",
        "skipped",
        "error",
        "check_missed",
        "stopping",
    }
)


# ---- queue events -----------------------------------------------------------------------


@dataclass(frozen=True)
class ButtonPressed:
    """The button was pressed and released before ``gpio.hold_s``: check the mood now."""


@dataclass(frozen=True)
class ButtonHeld:
    """The button was held for ``gpio.hold_s``: pause, or resume."""


@dataclass(frozen=True)
class PlayerEvent:
    """VLC reported a state change of the media started as ``token``.

    Attributes:
        kind: ``"playing"``, ``"ended"`` or ``"error"``.
        token: which ``play()`` call the media belongs to, so that late news about a track
            already replaced is recognised and dropped.
    """

    kind: str
    token: int


@dataclass(frozen=True)
class LibraryScanned:
    """The background scanner finished a pass over the music folder.

    Attributes:
        changed: whether any track was added, updated or removed.
        summary: one line for the log.
        error: why the scan failed (e.g. the music folder is missing); ``""`` if it did not.
    """

    changed: bool
    summary: str
    error: str = ""


@dataclass(frozen=True)
class Shutdown:
    """Stop: fade out, stop, close everything, and leave ``run()`` with exit code 0."""

    reason: str


@dataclass(frozen=True)
class Timer:
    """A deadline of the daemon's own came due (posted by the loop itself, never a thread).

    Attributes:
        name: which deadline, e.g. ``"lead"`` or ``"rescan"``.
    """

    name: str


# ---- the decision log -------------------------------------------------------------------

Listener = Callable[[Mapping[str, Any]], None]


class EventLog:
    """Writes each decision as an INFO line, a JSON line (optional), and to listeners.

    Thread-safe, though in the daemon only its consumer thread emits.

    Args:
        path: the JSON-lines file to append to, or None for none. Its folder is created.
        clock: seconds, monotonic; ``t`` in each record is measured from construction.
    """

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered: each record is on disk as soon as it is written (for tail -f).
            # backslashreplace: a non-UTF-8 file name's surrogates become JSON \u escapes.
            self._file = path.open("a", encoding="utf-8", buffering=1, errors="backslashreplace")

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(record)`` for every record emitted from now on."""
        self._listeners.append(listener)

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Record one decision.

        Args:
            event: one of ``EVENT_NAMES``.
            fields: the event's fields; must be JSON-serialisable (floats are rounded).

        Returns:
            The record as written.

        Raises:
            ValueError: ``event`` is not a known name (a programming error).
        """
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event {event!r}")
        record = {"t": round(self._clock() - self._start, 3), "event": event}
        record.update({key: _plain(value) for key, value in fields.items()})
        with self._lock:
            log.info("%s", describe(record))
            if self._file is not None:
                self._write(record)
            for listener in self._listeners:
                listener(record)
        return record

    def _write(self, record: Mapping[str, Any]) -> None:
        """Append one line; a file that cannot be written (disk full, removed folder) is
        reported once and dropped: the music matters more than the log."""
        assert self._file is not None
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()
            log.error("cannot write the events file: %s; going on without it", exc)
            failed = {"t": record["t"], "event": "error", "component": "events",
                      "message": f"cannot write the events file: {exc}; going on without it"}
            for listener in self._listeners:
                listener(failed)

    def close(self) -> None:
        """Close the events file; idempotent."""
        with self._lock:
            file, self._file = self._file, None
            if file is not None:
                with contextlib.suppress(OSError):  # a full disk fails the last flush too
                    file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """``value`` as JSON-friendly data: floats to 3 decimals, paths as strings, NaN as None."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _fmt(value: Any) -> str:
    return "?" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def describe(record: Mapping[str, Any]) -> str:
    """One line a person can read for a record (the INFO line and the demo's output)."""
    name, r = record["event"], record
    if name == "track_started":
        return (
            f"playing {r.get('title') or r.get('path')} ({_fmt(r.get('length_s'))} s, "
            f"valence {_fmt(r.get('valence'))}, energy {_fmt(r.get('energy'))})"
        )
    if name == "mood":
        return (
            f"mood: {r.get('emotion')} (confidence {_fmt(r.get('confidence'))}, "
            f"{r.get('faces')} face(s))"
        )
    if name == "track_chosen":
        return (
            f"next: {Path(str(r.get('path'))).name} (valence {_fmt(r.get('valence'))}, "
            f"energy {_fmt(r.get('energy'))}) because {r.get('reason')}"
        )
    if name == "skipped":
        return f"skipped {r.get('path')}: {r.get('why')}"
    if name == "error":
        return f"error in {r.get('component')}: {r.get('message')}"
    if name == "button":
        return f"button {r.get('action')}"
    if name == "check_missed":
        return f"no mood check: {r.get('reason')}"
    if name in ("camera_on", "camera_off"):
        return "camera " + name.split("_")[1]
    extra = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in ("t", "event"))
    return f"{name} ({extra})" if extra else name
