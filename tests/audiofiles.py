"""Tiny real audio files for the library tests: WAV made here, the other formats from assets/."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from appliance.demo import write_wav
from appliance.music.tags import write_tags

ASSETS = Path(__file__).parent / "assets"
#: suffix -> (title, artist, valence, energy) as scripts/make_test_audio.py wrote them.
ASSET_TAGS = {
    ".mp3": ("Tone MP3", "Moodbox Tests", 0.81, 0.72),
    ".flac": ("Tone FLAC", "Moodbox Tests", 0.25, 0.30),
    ".ogg": ("Tone OGG", "Moodbox Tests", 0.60, 0.40),
    ".opus": ("Tone OPUS", "Moodbox Tests", 0.40, 0.90),
    ".m4a": ("Tone M4A", "Moodbox Tests", 0.15, 0.20),
}


def make_wav(path: Path, seconds: float = 0.2, rate: int = 8000) -> Path:
    """Write a mono 16-bit 440 Hz tone to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    write_wav(path, np.sin(2 * np.pi * 440 * t) * 0.09, rate=rate)
    return path


def make_track(
    path: Path,
    title: str | None = None,
    artist: str | None = None,
    valence: float | None = None,
    energy: float | None = None,
) -> Path:
    """A tagged track at ``path``: a fresh WAV, or a copy of the asset with that suffix."""
    if path.suffix.lower() == ".wav":
        make_wav(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ASSETS / f"tone{path.suffix.lower()}", path)
    write_tags(path, valence=valence, energy=energy, title=title, artist=artist)
    return path
