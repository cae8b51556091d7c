"""Features of the 4Q clips, computed once with the package's own code and cached in build/.

The cache file's name carries ``FEATURES_VERSION`` and a hash of the feature names, so changed
features start a new cache instead of mixing old and new columns. Extraction
is resumable: rows are saved every ``SAVE_EVERY`` clips and a rerun goes on from there.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]

from music4q import Clip  # noqa: E402

from appliance.errors import AudioError  # noqa: E402
from appliance.music import audio, audio_features  # noqa: E402

CACHE_DIR = ROOT / "build" / "valence"
SAVE_EVERY = 50


def feature_version() -> str:
    """``v<FEATURES_VERSION>-<hash of the names>``: a new one means new features."""
    names = "\n".join(audio_features.FEATURE_NAMES).encode()
    return f"v{audio_features.FEATURES_VERSION}-{hashlib.sha256(names).hexdigest()[:8]}"


def clip_features(clips: list[Clip], cache_dir: Path = CACHE_DIR) -> tuple[np.ndarray, float]:
    """Clips x features (a row of NaN for a clip that failed) and CPU seconds per clip.

    The seconds are the mean of the clips computed in this call, or the cached mean.
    """
    cache = cache_dir / f"features-{feature_version()}.npz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, np.ndarray] = {}
    seconds: list[float] = []
    if cache.exists():
        with np.load(cache) as saved:
            done = dict(zip(saved["ids"].tolist(), saved["rows"], strict=True))
            seconds = saved["seconds"].tolist()
    todo = [c for c in clips if c.song_id not in done]
    for n, clip in enumerate(todo, 1):
        started = time.process_time()
        done[clip.song_id] = _one(clip)
        seconds.append(time.process_time() - started)
        if n % SAVE_EVERY == 0 or n == len(todo):
            _save(cache, done, seconds)
            print(f"features: {len(done)}/{len(clips)} clips, "
                  f"{np.mean(seconds):.3f} s CPU each", file=sys.stderr)
    rows = np.stack([done[c.song_id] for c in clips])
    return rows, float(np.mean(seconds)) if seconds else float("nan")


def _one(clip: Clip) -> np.ndarray:
    try:
        excerpt = audio.read_excerpt(clip.path)
        return audio_features.track_features(excerpt.windows)
    except (AudioError, ValueError) as exc:
        print(f"features: {clip.song_id}: {exc}", file=sys.stderr)
        return np.full(len(audio_features.FEATURE_NAMES), np.nan, np.float32)


def _save(cache: Path, done: dict[str, np.ndarray], seconds: list[float]) -> None:
    partial = cache.with_suffix(".tmp.npz")
    np.savez(partial, ids=np.array(list(done)), rows=np.stack(list(done.values())),
             seconds=np.array(seconds))
    partial.replace(cache)  # atomic: an interrupted run keeps the last complete save
