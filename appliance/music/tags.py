"""Reading and writing a music file's tags with mutagen (the only module that imports it).

Besides title, artist and duration, two custom tags carry the rules' inputs, both 0..1:
``VALENCE`` (sad to happy) and ``ENERGY`` (calm to energetic). Where they live:

- MP3 and WAV: ID3 ``TXXX:VALENCE`` / ``TXXX:ENERGY`` (WAV through its ``id3`` chunk);
- FLAC, Ogg Vorbis, Opus: Vorbis comments ``VALENCE`` / ``ENERGY``;
- M4A: freeform atoms ``----:com.apple.iTunes:VALENCE`` / ``...:ENERGY``.

mutagen raises many kinds of errors on damaged files; they are all translated here, once, into
``LibraryError`` with a one-line reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3, TIT2, TPE1, TXXX
from mutagen.mp4 import AtomDataType, MP4FreeForm, MP4Tags

from appliance.errors import LibraryError

log = logging.getLogger(__name__)

#: File suffixes the library scans (lower case).
AUDIO_SUFFIXES = frozenset({".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav"})
_MP4_PREFIX = "----:com.apple.iTunes:"
_CUSTOM = ("VALENCE", "ENERGY")


@dataclass(frozen=True)
class TagInfo:
    """What the library keeps from one file's tags."""

    title: str
    artist: str
    duration_s: float
    valence: float | None
    energy: float | None


def read_tags(path: Path) -> TagInfo:
    """Read title, artist, duration, VALENCE and ENERGY from ``path``.

    A missing title falls back to the file name ("Artist - Title.mp3" is split); a custom tag
    that is not a number in 0..1 is ignored with a warning.

    Raises:
        LibraryError: the file cannot be read, is not audio mutagen knows, or has no audio.
    """
    with _translated(path, "cannot read"):
        audio = mutagen.File(path)
    if audio is None:
        raise LibraryError(f"{path}: not a recognised audio file")
    length = getattr(audio.info, "length", 0.0) or 0.0
    if not length > 0 or not math.isfinite(length):
        raise LibraryError(f"{path}: no audio in the file (length 0)")
    text = _reader(audio.tags)
    title, artist = text("title"), text("artist")
    if not title:
        title, artist = _from_name(path, artist)
    valence, energy = (_unit(path, key, text(key)) for key in _CUSTOM)
    return TagInfo(title, artist, float(length), valence, energy)


def write_tags(
    path: Path,
    valence: float | None = None,
    energy: float | None = None,
    title: str | None = None,
    artist: str | None = None,
) -> None:
    """Write the given tags into ``path``; those left ``None`` are not touched.

    Raises:
        LibraryError: the file cannot be read or written, or a value is outside 0..1.
    """
    for key, value in zip(_CUSTOM, (valence, energy), strict=True):
        if value is not None and not 0.0 <= value <= 1.0:
            raise LibraryError(f"{path}: {key} must be between 0 and 1, not {value}")
    with _translated(path, "cannot write tags to"):
        audio = mutagen.File(path)
        if audio is None:
            raise LibraryError(f"{path}: not a recognised audio file")
        if audio.tags is None:
            audio.add_tags()
        numbers = {"VALENCE": valence, "ENERGY": energy}
        texts = {"title": title, "artist": artist}
        texts.update({k: f"{v:.3f}" for k, v in numbers.items() if v is not None})
        for key, text in texts.items():
            if text is not None:
                _set(audio.tags, key, text)
        audio.save()


@contextmanager
def _translated(path: Path, doing: str) -> Iterator[None]:
    """Turn whatever mutagen or the file system raises into one ``LibraryError``."""
    try:
        yield
    except LibraryError:
        raise
    except Exception as exc:  # mutagen's parsers raise many types on corrupt data
        # mutagen often names the file again inside its message; say it once.
        reason = (str(exc) or type(exc).__name__).replace(f"'{path}'", "it")
        raise LibraryError(f"{path}: {doing} the file: {reason}") from exc


def _reader(tags: Any) -> Callable[[str], str]:
    """A function from a key ("title", "artist", "VALENCE", "ENERGY") to its text or ""."""
    def text(key: str) -> str:
        values: list[Any] = []
        if isinstance(tags, ID3):
            frame = {"title": "TIT2", "artist": "TPE1"}.get(key, f"TXXX:{key}")
            values = list(tags[frame].text) if frame in tags else []
        elif isinstance(tags, MP4Tags):
            atom = {"title": "\xa9nam", "artist": "\xa9ART"}.get(key, _MP4_PREFIX + key)
            values = list(tags.get(atom, []))
        elif tags is not None:  # Vorbis comments (FLAC, Ogg, Opus): keys are case-blind
            values = list(tags.get(key, []))
        parts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]
        return " / ".join(p.strip() for p in parts if p.strip())
    return text


def _set(tags: Any, key: str, value: str) -> None:
    if isinstance(tags, ID3):
        if key == "title":
            tags.setall("TIT2", [TIT2(encoding=3, text=[value])])
        elif key == "artist":
            tags.setall("TPE1", [TPE1(encoding=3, text=[value])])
        else:
            tags.setall(f"TXXX:{key}", [TXXX(encoding=3, desc=key, text=[value])])
    elif isinstance(tags, MP4Tags):
        if key in ("title", "artist"):
            tags["\xa9nam" if key == "title" else "\xa9ART"] = [value]
        else:
            data = MP4FreeForm(value.encode(), dataformat=AtomDataType.UTF8)
            tags[_MP4_PREFIX + key] = [data]
    else:
        tags[key] = [value]


def _unit(path: Path, key: str, text: str) -> float | None:
    """The tag's value when it is a number in 0..1, else ``None`` (warned when present)."""
    if not text:
        return None
    try:
        value = float(text.split(" / ")[0])
    except ValueError:
        value = math.nan
    if 0.0 <= value <= 1.0:
        return value
    log.warning("%s: ignoring %s=%r (must be a number from 0 to 1)", path, key, text)
    return None


def _from_name(path: Path, artist: str) -> tuple[str, str]:
    """Title (and artist, when the tags had none) from "Artist - Title.ext" or the name."""
    left, sep, right = path.stem.partition(" - ")
    if sep and left.strip() and right.strip():
        return right.strip(), artist or left.strip()
    return path.stem, artist

