"""The 4Q audio emotion data set (Panda et al., 2018): labels, artist groups and grouped folds.

Shared by ``train_valence.py`` and ``evaluate_music.py``. The data is research-only and never
enters the repository; features cut from it are cached under the git-ignored ``build/``.

Folds are grouped by artist as the data set's README asks: spellings of one artist merged,
each clip with no artist on its own, and the two known same-recording pairs kept together.
"""

from __future__ import annotations

import csv
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Where the data set is looked for when ``--data`` is not given.
DATA_ENV = "MOODBOX_4Q_DIR"
_MERGE = {
    "bob marley & the wailers": "bob marley",
    "charlie poole & the north carolina ramblers": "charlie poole",
    "eddie heywood and his orchestra": "eddie heywood",
    "xavier cugat & his orchestra": "xavier cugat",
    "sizzla kalonji": "sizzla",
    "alvin & the chipmunks": "the chipmunks",
    "the sir douglas quintet + 2": "the sir douglas quintet",
}
# Same recording under two names: song id -> the id whose group it joins.
_SAME_AUDIO = {"MT0033415296": "MT0002161109", "MT0000941301": "MT0000523076"}


@dataclass(frozen=True)
class Clip:
    """One labelled clip: ``valence`` and ``arousal`` are +1 or -1."""

    song_id: str
    quadrant: int
    valence: int
    arousal: int
    artist: str
    path: Path


def data_dir(given: str | None) -> Path:
    """The data set folder from ``--data`` or ``$MOODBOX_4Q_DIR``.

    Raises:
        SystemExit: neither names a folder with a ``labels.csv``.
    """
    folder = given or os.environ.get(DATA_ENV)
    if not folder or not (Path(folder) / "labels.csv").is_file():
        raise SystemExit(f"4Q data not found: pass --data DIR or set {DATA_ENV} "
                         "(the folder holding labels.csv and Q1..Q4/)")
    return Path(folder)


def load_clips(folder: Path) -> list[Clip]:
    """Every clip in ``labels.csv``, in file order."""
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        return [Clip(row["song_id"], int(row["quadrant"]), int(row["valence"]),
                     int(row["arousal"]), row["artist"], folder / row["file"])
                for row in csv.DictReader(handle)]


def groups(clips: list[Clip]) -> list[str]:
    """The artist group key of each clip (see the module docstring)."""
    by_id = {}
    for clip in clips:
        name = " ".join(clip.artist.lower().split())
        by_id[clip.song_id] = _MERGE.get(name, name) or f"(no artist {clip.song_id})"
    return [by_id[_SAME_AUDIO.get(c.song_id, c.song_id)] for c in clips]


def grouped_folds(clips: list[Clip], k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) of each clip: artist-grouped, balanced over the quadrants.

    Groups go largest first (ties in a seeded random order) to the fold whose quadrant counts
    they unbalance least, so each fold holds about a k-th of every quadrant.
    """
    keys = groups(clips)
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    order = list(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda g: -len(members[g]))
    counts = np.zeros((k, 4))
    fold = np.zeros(len(clips), dtype=int)
    for key in order:
        quads = Counter(clips[i].quadrant - 1 for i in members[key])
        add = np.zeros(4)
        for q, n in quads.items():
            add[q] = n
        cost = [((counts[f] + add) ** 2).sum() for f in range(k)]
        best = int(np.argmin(cost))
        counts[best] += add
        fold[members[key]] = best
    return fold
