"""Window features of the 4Q clips, computed once with the package's own code, cached in build/.

Each clip is read as the appliance reads a track (``audio.read_excerpt``: 3 windows of 10 s)
and every window long enough for one analysis frame gives a row of ``TrackVectors.window``
(numpy statistics and the shipped musicnn tagger's embedding of ``PATCHES`` 3-s patches). The
model is trained on these rows (each with its clip's label) and a track is predicted from the
length-weighted mean of its rows, which is exactly what ``TrackVectors.track`` gives on the box
(``WindowRows.tracks``).

The cache file's name carries ``FEATURES_VERSION`` and a hash of the feature names, the
tagger's SHA-256 and ``PATCHES``, so changed features start a new cache instead of mixing old
and new columns. Extraction is resumable:
rows are saved every ``SAVE_EVERY`` clips and a rerun goes on from there.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]

from music4q import Clip  # noqa: E402

from appliance.errors import AudioError  # noqa: E402
from appliance.music import audio, audio_features, tagger, track_vector  # noqa: E402

CACHE_DIR = ROOT / "build" / "valence"
SAVE_EVERY = 50
#: 3-s patches of each 10-s window the tagger hears (chosen by evaluate_music.py's CV).
PATCHES = 3
_WIDTH = len(track_vector.FEATURE_NAMES)
# song id -> (windows x features, samples per window); no rows for a clip that failed
_Done = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class WindowRows:
    """Window feature rows of a list of clips.

    Attributes:
        x: windows x features (float64, as ``window_features`` computes them).
        clip: the index of each row's clip in the list the rows were made for.
        length: samples in each row's window (the weight of its row in the track's mean).
        seconds: CPU seconds per clip of decode and features (this run's mean, or the cache's).
    """

    x: np.ndarray
    clip: np.ndarray
    length: np.ndarray
    seconds: float

    def tracks(self, count: int) -> np.ndarray:
        """Clips x features: each clip's length-weighted mean row, as ``TrackVectors.track``
        computes it (float32); a row of NaN for a clip with no window."""
        out = np.full((count, _WIDTH), np.nan, np.float32)
        for i in np.unique(self.clip):
            mine = self.clip == i
            weights = self.length[mine].astype(np.float64)
            out[i] = (weights @ self.x[mine] / weights.sum()).astype(np.float32)
        return out


def tagger_spec() -> dict[str, object]:
    """What a model file says of the tagger its features need: file, SHA-256, patches."""
    digest = hashlib.sha256(tagger.DEFAULT_MODEL.read_bytes()).hexdigest()
    return {"file": tagger.DEFAULT_MODEL.name, "sha256": digest, "patches": PATCHES}


def feature_version() -> str:
    """``v<FEATURES_VERSION>-<hash of the names and the tagger>``: a new one means new
    features."""
    spec = tagger_spec()
    key = "\n".join([*track_vector.FEATURE_NAMES, str(spec["sha256"]), str(spec["patches"])])
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"v{track_vector.FEATURES_VERSION}-{digest}"


def window_rows(clips: list[Clip], cache_dir: Path | None = None) -> WindowRows:
    """The window rows of ``clips`` (a clip that fails to decode has none), cached in
    ``cache_dir`` (default ``CACHE_DIR``)."""
    cache = (cache_dir or CACHE_DIR) / f"windows-{feature_version()}.npz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    done, seconds = _load(cache)
    todo = [c for c in clips if c.song_id not in done]
    vectors = track_vector.TrackVectors(tagger.Tagger(), PATCHES)
    for n, clip in enumerate(todo, 1):
        started = time.process_time()
        done[clip.song_id] = _one(clip, vectors)
        seconds.append(time.process_time() - started)
        if n % SAVE_EVERY == 0 or n == len(todo):
            _save(cache, done, seconds)
            print(f"features: {len(done)}/{len(clips)} clips, "
                  f"{np.mean(seconds):.3f} s CPU each", file=sys.stderr)
    parts = [done[c.song_id] for c in clips]
    return WindowRows(
        x=np.concatenate([rows for rows, _ in parts]),
        clip=np.concatenate([np.full(len(lengths), i) for i, (_, lengths) in enumerate(parts)]),
        length=np.concatenate([lengths for _, lengths in parts]),
        seconds=float(np.mean(seconds)) if seconds else float("nan"))


def _one(clip: Clip, vectors: track_vector.TrackVectors) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one clip's windows, skipping those ``TrackVectors.track`` skips."""
    try:
        excerpt = audio.read_excerpt(clip.path)
        usable = audio_features.usable_windows(excerpt.windows)
        rows = np.stack([vectors.window(w) for w in usable])
        return rows.astype(np.float64), np.array([len(w) for w in usable], np.int64)
    except (AudioError, ValueError) as exc:
        print(f"features: {clip.song_id}: {exc}", file=sys.stderr)
        return np.zeros((0, _WIDTH)), np.zeros(0, np.int64)


def _load(cache: Path) -> tuple[_Done, list[float]]:
    if not cache.exists():
        return {}, []
    with np.load(cache) as saved:
        ends = np.cumsum(saved["counts"])
        rows = np.split(saved["rows"], ends[:-1])
        lengths = np.split(saved["lengths"], ends[:-1])
        done = dict(zip(saved["ids"].tolist(), zip(rows, lengths, strict=True), strict=True))
        return done, saved["seconds"].tolist()


def _save(cache: Path, done: _Done, seconds: list[float]) -> None:
    partial = cache.with_suffix(".tmp.npz")
    np.savez(partial, ids=np.array(list(done)),
             counts=np.array([len(lengths) for _, lengths in done.values()]),
             rows=np.concatenate([rows for rows, _ in done.values()]),
             lengths=np.concatenate([lengths for _, lengths in done.values()]),
             seconds=np.array(seconds))
    partial.replace(cache)  # atomic: an interrupted run keeps the last complete save
