"""The demo's material: a small synthetic music library and a folder of face photos.

Each demo piece is synthesised with numpy and tagged with VALENCE and ENERGY, and it sounds
like its tags: high valence is a major key and brisk, low valence a minor key and slow;
energy sets the tempo, the note density and the brightness. The photos are public-domain
images that ship inside registry packages (scikit-image, matplotlib), copied so that the
``files:`` camera can show them to the mood check.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.music.tags import write_tags

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050
ARTIST = "Moodbox demo"
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord roots as scale degrees: I-V-vi-IV for major, i-VI-III-VII for minor.
_PROGRESSIONS = {True: (0, 4, 5, 3), False: (0, 5, 2, 6)}
# (package, path inside it): public-domain photos with a face in them.
PHOTO_SOURCES = (
    ("skimage", "data/astronaut.png"),
    ("skimage", "data/camera.png"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)


@dataclass(frozen=True)
class Piece:
    """One demo track: its title, tags and length."""

    title: str
    valence: float
    energy: float
    seconds: float

    @property
    def filename(self) -> str:
        """The file name: valence first, so a listing sorts from sad to happy."""
        slug = self.title.lower().replace(" ", "-")
        return f"{round(self.valence * 100):02d}-{slug}.wav"


#: The demo library: spread over the valence/energy plane, 20-40 s each.
PIECES = (
    Piece("Grey Harbour", 0.10, 0.20, 34),
    Piece("Slow Rain", 0.20, 0.35, 28),
    Piece("Storm Warning", 0.25, 0.80, 22),
    Piece("Quiet Room", 0.40, 0.25, 30),
    Piece("Waiting", 0.50, 0.50, 26),
    Piece("Open Window", 0.60, 0.30, 36),
    Piece("Morning Walk", 0.70, 0.55, 24),
    Piece("Market Day", 0.80, 0.75, 27),
    Piece("Sunny Side", 0.90, 0.90, 21),
    Piece("Warm Evening", 0.85, 0.40, 38),
)


def synthesize(valence: float, energy: float, seconds: float, rate: int = SAMPLE_RATE,
               seed: int = 0) -> np.ndarray:
    """A piece of music for a valence and energy, as float32 samples in -1..1.

    Arpeggiated chords over a bass line: the key is major when ``valence`` >= 0.5, else minor;
    the tempo runs from 60 to 150 beats a minute and the notes get brighter with ``energy``.

    Args:
        valence: 0..1, sad to happy.
        energy: 0..1, calm to energetic.
        seconds: length.
        rate: samples per second.
        seed: varies the melody between pieces with the same tags.
    """
    major = valence >= 0.5
    scale = _MAJOR if major else _MINOR
    beat = 60.0 / (60 + 90 * energy)
    per_beat = 2 if energy > 0.45 else 1
    step = beat / per_beat
    tonic = 57 + round(5 * valence)  # MIDI note: A3 for the saddest up to D4
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    t, index = 0.0, 0
    while t < seconds - 0.5:
        bar = int(t / (4 * beat)) % 4
        root = _PROGRESSIONS[major][bar]
        degree = root + (0, 2, 4, 2)[index % 4] + 7 * int(rng.random() < 0.2 * energy)
        _add_note(out, _note(tonic + 12, scale, degree), t, step * 1.8, energy, rate, 0.18)
        if index % (4 * per_beat) == 0:  # a bass note each bar
            _add_note(out, _note(tonic - 12, scale, root), t, 4 * beat, 0.1, rate, 0.22)
        t += step
        index += 1
    fade = min(len(out), int(0.4 * rate))
    out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return np.clip(out, -1.0, 1.0)


def _note(tonic: int, scale: tuple[int, ...], degree: int) -> float:
    """Frequency in Hz of ``degree`` steps up ``scale`` from MIDI note ``tonic``."""
    midi = tonic + scale[degree % 7] + 12 * (degree // 7)
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _add_note(out: np.ndarray, freq: float, start: float, length: float, brightness: float,
              rate: int, level: float) -> None:
    """Mix one plucked note into ``out`` (harmonics fade faster than the fundamental)."""
    first = int(start * rate)
    n = min(int(length * rate), len(out) - first)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / rate
    tone = np.zeros(n, dtype=np.float32)
    for harmonic in range(1, 2 + round(3 * brightness)):
        tone += np.sin(2 * np.pi * freq * harmonic * t) / harmonic**1.5
    envelope = np.exp(-t * (3.0 / length)) * np.minimum(1.0, t / 0.01)
    out[first:first + n] += level * tone * envelope


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float samples in -1..1 as a mono 16-bit WAV file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())


def write_piece(folder: Path, piece: Piece, seed: int = 0) -> Path:
    """Synthesise ``piece`` into ``folder`` with its title, artist, VALENCE and ENERGY tags."""
    path = folder / piece.filename
    write_wav(path, synthesize(piece.valence, piece.energy, piece.seconds, seed=seed))
    write_tags(path, valence=piece.valence, energy=piece.energy, title=piece.title,
               artist=ARTIST)
    return path


def make_music(folder: Path, pieces: Iterable[Piece] = PIECES) -> list[Path]:
    """Write every piece not already in ``folder`` (a second demo run reuses them).

    Returns:
        The paths of all the pieces.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed, piece in enumerate(pieces):
        path = folder / piece.filename
        if not path.exists():
            log.info("synthesising %s", path.name)
            write_piece(folder, piece, seed)
        paths.append(path)
    return paths


def copy_photos(folder: Path) -> list[Path]:
    """Copy the public-domain face photos that installed packages ship into ``folder``.

    Packages that are not installed are skipped: with no photo at all the demo still runs,
    and its mood checks report that the camera has nothing to show.
    """
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for package, inside in PHOTO_SOURCES:
        spec = importlib.util.find_spec(package)  # finds the files without importing
        roots = spec.submodule_search_locations if spec else None
        source = Path(next(iter(roots)), inside) if roots else None
        if source is None or not source.is_file():
            log.warning("photo %s from %s not found; install the package to use it",
                        inside, package)
            continue
        target = folder / source.name
        if not target.exists():
            shutil.copyfile(source, target)
        copied.append(target)
    return copied
