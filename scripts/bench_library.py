"""Benchmark the library scan: a first scan of 1,000 generated files, then rescans.

Files are tiny but real and tagged, in all six formats (WAV made here, the others copied from
tests/assets/), spread over artist/album folders. Times are printed as ratios to a baseline
measured in the same run (walking the folder and reading every byte of every file), and the
first scan is held against the target of 60 s.

    .venv/bin/python scripts/bench_library.py [--files 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from appliance.music.library import Library
from appliance.music.tags import write_tags

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets"
SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a")
TARGET_FIRST_SCAN_S = 60.0


def generate(folder: Path, count: int) -> None:
    """``count`` tagged files, ten per album, ten albums per artist."""
    rng = np.random.default_rng(7)
    tone = (np.sin(np.arange(16000) * 2 * np.pi * 440 / 8000) * 3000).astype("<i2").tobytes()
    for i in range(count):
        suffix = SUFFIXES[i % len(SUFFIXES)]
        path = folder / f"artist{i // 100:02d}" / f"album{i // 10 % 10}" / f"track{i:04d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".wav":
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(8000)
                out.writeframes(tone)
        else:
            shutil.copyfile(ASSETS / f"tone{suffix}", path)
        valence, energy = (float(round(x, 3)) for x in rng.random(2))
        write_tags(path, valence, energy, title=f"Track {i}", artist=f"Artist {i // 100}")


def read_everything(folder: Path) -> float:
    """Seconds to walk ``folder`` and read every file's bytes: the baseline."""
    started = time.perf_counter()
    for root, _, names in os.walk(folder):
        for name in names:
            Path(root, name).read_bytes()
    return time.perf_counter() - started


def timed_scan(library: Library, folder: Path, label: str) -> float:
    last = [0.0]

    def progress(done: int, total: int, path: str) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] >= 0.5:
            last[0] = now
            print(f"\r  {label}: {done}/{total} files", end="", file=sys.stderr, flush=True)

    report = library.scan(folder, progress)
    print(file=sys.stderr)
    print(f"{label}: {report.seconds:.3f} s ({report.added} added, {report.updated} updated, "
          f"{report.unchanged} unchanged, {len(report.unreadable)} unreadable)")
    return report.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files to generate (1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodbox-bench-") as tmp:
        music = Path(tmp) / "music"
        started = time.perf_counter()
        generate(music, args.files)
        print(f"generated {args.files} tagged files in {time.perf_counter() - started:.1f} s")
        baseline = read_everything(music)
        print(f"baseline (walk and read every byte): {baseline:.3f} s")
        with Library(Path(tmp) / "library.sqlite3") as library:
            first = timed_scan(library, music, "first scan")
            again = timed_scan(library, music, "rescan, nothing changed")
            for path in sorted(music.rglob("track00[0-4]*")):
                os.utime(path)  # 50 files look changed
            touched = timed_scan(library, music, "rescan, 50 files touched")
            assert len(library.tracks()) == args.files
    print(f"ratios to the baseline: first scan {first / baseline:.1f}x, "
          f"rescan {again / baseline:.2f}x, rescan with 50 changed {touched / baseline:.2f}x")
    per_file_ms = first / args.files * 1000
    verdict = "meets" if first <= TARGET_FIRST_SCAN_S * args.files / 1000 else "MISSES"
    print(f"first scan: {per_file_ms:.2f} ms per file; {verdict} the target of "
          f"{TARGET_FIRST_SCAN_S:.0f} s per 1,000 files")
    return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    sys.exit(main())
