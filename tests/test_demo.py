"""The demo library sounds like its tags, is tagged for the library, and `moodbox demo` runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from appliance.demo import PIECES, SAMPLE_RATE, Piece, copy_photos, make_music, synthesize
from appliance.music.library import Library
from appliance.music.tags import read_tags


def _pitch_classes(samples: np.ndarray, tonic: int) -> np.ndarray:
    """Spectral energy per pitch class, counted in semitones above ``tonic`` (MIDI)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    audible = (freqs > 60) & (freqs < 2000)
    semitone = (np.round(69 + 12 * np.log2(freqs[audible] / 440)) - tonic) % 12
    return np.array([spectrum[audible][semitone == k].sum() for k in range(12)])


def _onsets_per_s(samples: np.ndarray) -> float:
    """Note starts per second: 20 ms frames whose energy jumps to 1.8x the frame before."""
    n = SAMPLE_RATE // 50
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    energy = (frames.astype(np.float64) ** 2).sum(axis=1)
    return float(np.sum(energy[1:] > 1.8 * energy[:-1] + 1e-3)) / (len(samples) / SAMPLE_RATE)


@pytest.mark.parametrize("valence", [0.1, 0.3, 0.7, 0.9])
def test_high_valence_is_major_and_low_valence_minor(valence: float) -> None:
    classes = _pitch_classes(synthesize(valence, 0.5, 12.0), 57 + round(5 * valence))
    major_third, minor_third = classes[4], classes[3]
    if valence >= 0.5:
        assert major_third > 3 * minor_third
    else:
        assert minor_third > 3 * major_third


def test_energy_sets_the_pace() -> None:
    calm = _onsets_per_s(synthesize(0.5, 0.1, 12.0))
    brisk = _onsets_per_s(synthesize(0.5, 0.9, 12.0))
    assert brisk > 2 * calm


def test_samples_stay_in_range_and_end_quietly() -> None:
    samples = synthesize(0.9, 0.9, 5.0)
    assert samples.dtype == np.float32 and len(samples) == 5 * SAMPLE_RATE
    assert 0.2 < np.abs(samples).max() <= 1.0
    assert np.abs(samples[-100:]).max() < 0.01


def test_demo_library_is_tagged_for_the_library(tmp_path: Path) -> None:
    pieces = (*PIECES[:2], Piece("Tiny", 0.33, 0.66, 1.0))
    paths = make_music(tmp_path / "music", pieces)
    for path, piece in zip(paths, pieces, strict=True):
        tags = read_tags(path)
        assert (tags.title, tags.valence, tags.energy) == (piece.title, piece.valence,
                                                          piece.energy)
        assert tags.duration_s == pytest.approx(piece.seconds, abs=0.01)
    with Library(tmp_path / "db.sqlite3") as library:
        assert library.scan(tmp_path / "music").added == 3
        assert {t.title for t in library.tracks()} == {p.title for p in pieces}
    mtimes = [p.stat().st_mtime_ns for p in paths]
    make_music(tmp_path / "music", pieces)  # a second demo run reuses the files
    assert [p.stat().st_mtime_ns for p in paths] == mtimes


def test_shipped_pieces_are_20_to_40_s_and_spread_over_the_plane() -> None:
    assert all(20 <= p.seconds <= 40 for p in PIECES)
    assert min(p.valence for p in PIECES) <= 0.2 and max(p.valence for p in PIECES) >= 0.8
    assert min(p.energy for p in PIECES) <= 0.25 and max(p.energy for p in PIECES) >= 0.8
    assert len({p.filename for p in PIECES}) == len(PIECES)


def test_photos_are_copied_from_the_installed_packages(tmp_path: Path) -> None:
    photos = copy_photos(tmp_path / "photos")
    assert sorted(p.name for p in photos) == ["astronaut.png", "camera.png", "grace_hopper.jpg"]
    assert all(p.stat().st_size > 10_000 for p in photos)


def test_demo_command_plays_takes_a_button_press_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "demo", "--seconds", "12", "--output", "dummy",
         "--config", str(_empty_config(tmp_path))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env)
    assert proc.stdin is not None and proc.stdout is not None
    killer = threading.Timer(60, proc.kill)
    killer.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if _is_event(line, "playing") and sum(_is_event(x, "playing") for x in lines) == 1:
                proc.stdin.write("\n")  # Enter: the button
                proc.stdin.flush()
        proc.wait()
    finally:
        killer.cancel()
    output = "".join(lines)
    assert proc.returncode == 0, output
    folder = tmp_path / "cache" / "moodbox" / "demo"
    assert f"Moodbox demo: {len(PIECES)} pieces in {folder / 'music'}" in output
    assert "audio:  dummy" in output
    for expected in ("button press", "camera on", "camera off", "mood: ", "next: ",
                     "stopping"):
        assert expected in output
    # The first track, then the switch after the press.
    assert sum(_is_event(x, "playing") for x in lines) == 2
    assert (folder / "state.json").is_file()


def _is_event(line: str, what: str) -> bool:
    """Whether ``line`` is a printed event ("    1.2 s  playing ...") starting with ``what``."""
    return re.match(rf"\s*[\d.]+ s  {what}", line) is not None


def _empty_config(tmp_path: Path) -> Path:
    # The demo overrides what it needs; the rest are the shipped defaults.
    path = tmp_path / "moodbox.toml"
    path.write_text("")
    return path
