"""The daemon's state file: a small JSON document that ``moodbox status`` reads.

Written atomically (a temporary file in the same folder, then ``os.replace``) on every change,
so a reader never sees half a file. Schema::

    {"pid": int, "updated": unix time, "state": one of STATES,
     "track": {path, title, artist, valence, energy, length_s} | null,
     "last_mood": {emotion, confidence, faces, at} | null,
     "next_check_at": unix time | null, "camera": "on" | "off"}
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATES = ("starting", "playing", "paused", "waiting_audio", "waiting_library", "stopping")


class StateFile:
    """Keeps the state document and rewrites the file whenever a field changes.

    A state file that cannot be written is logged once and otherwise ignored: the music
    matters more than the status display.

    Args:
        path: where the JSON goes; its folder is created if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] = {
            "pid": os.getpid(),
            "updated": time.time(),
            "state": "starting",
            "track": None,
            "last_mood": None,
            "next_check_at": None,
            "camera": "off",
        }
        self._failed = False
        self._write()

    @property
    def data(self) -> Mapping[str, Any]:
        """The current document (read-only view; change it with ``update``)."""
        return dict(self._data)

    def update(self, **fields: Any) -> None:
        """Set fields and rewrite the file if anything changed.

        Raises:
            KeyError: a field that is not in the schema (a programming error).
            ValueError: ``state`` is not one of ``STATES``.
        """
        unknown = set(fields) - set(self._data)
        if unknown:
            raise KeyError(f"not state file fields: {sorted(unknown)}")
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown state {fields['state']!r}")
        if all(self._data[k] == v for k, v in fields.items()):
            return
        self._data.update(fields)
        self._data["updated"] = time.time()
        self._write()

    def _write(self) -> None:
        try:
            write_atomic(self.path, json.dumps(self._data, ensure_ascii=False, indent=1))
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write state file %s: %s (moodbox status will be stale)",
                            self.path, exc)
            self._failed = True

    def close(self) -> None:
        """Nothing to release (the file stays for ``moodbox status``); idempotent."""


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # backslashreplace: a non-UTF-8 file name (surrogate escapes) becomes a JSON \u escape.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; `moodbox status` runs as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> dict[str, Any] | None:
    """The state document at ``path``, or None if there is none or it is not JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def daemon_alive(pid: object) -> bool:
    """Whether ``pid`` is a running Moodbox process (not a stale pid reused by another)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (the service runs as "moodbox")
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to check against: trust the signal
    return b"moodbox" in cmdline or b"appliance" in cmdline


def _ago(seconds: float) -> str:
    """``seconds`` as a short span: "42 s", "3 min", "2 h 5 min"."""
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"


def describe_track(track: Mapping[str, Any] | None) -> str:
    """"Title" by Artist, as a person reads it."""
    if not track:
        return "nothing"
    title = track.get("title") or Path(str(track.get("path", "?"))).name
    artist = track.get("artist")
    return f"'{title}' by {artist}" if artist else f"'{title}'"


def describe_mood(mood: Mapping[str, Any] | None, now: float | None = None) -> str:
    """The last mood reading and how long ago it was taken."""
    if not mood:
        return "no mood check yet"
    now = time.time() if now is None else now
    confidence = mood.get("confidence")
    score = f" ({confidence:.2f})" if isinstance(confidence, int | float) else ""
    return f"{mood.get('emotion')}{score} {_ago(now - float(mood.get('at', now)))} ago"


def describe_state(data: Mapping[str, Any], now: float | None = None) -> str:
    """One line for ``systemctl status`` (STATUS=) and logs."""
    now = time.time() if now is None else now
    state = data.get("state", "?")
    if state in ("playing", "paused"):
        parts = [f"{state} {describe_track(data.get('track'))}",
                 f"last mood: {describe_mood(data.get('last_mood'), now)}",
                 f"camera {data.get('camera', 'off')}"]
        due = data.get("next_check_at")
        if isinstance(due, int | float):
            parts.append(f"next check in {_ago(max(0.0, due - now))}")
        return "; ".join(parts)
    return {"starting": "starting", "waiting_audio": "waiting for the audio device",
            "waiting_library": "waiting for music to play",
            "stopping": "stopping"}.get(state, str(state))
