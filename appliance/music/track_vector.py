"""What the valence model reads: one vector per track, from the windows the box reads.

Each window gives ``audio_features``' statistics followed by the mean of musicnn's embedding
over ``patches`` 3-s patches of it (``tagger``); a track's vector is the windows' mean,
weighted by their length. ``FEATURE_NAMES`` names every column, so a model file can say what it
was trained on, and ``FEATURES_VERSION`` changes whenever the numbers would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from appliance.music import audio_features
from appliance.music.tagger import EMBEDDING_NAMES, Tagger

#: ``audio_features``' own version times 100 plus this module's (1: the embedding appended).
FEATURES_VERSION = audio_features.FEATURES_VERSION * 100 + 1
FEATURE_NAMES = audio_features.FEATURE_NAMES + EMBEDDING_NAMES


class TrackVectors:
    """Window rows and track vectors with one loaded tagger."""

    def __init__(self, tagger: Tagger, patches: int) -> None:
        """``patches``: 3-s patches of each window the tagger hears (1..3; its cost)."""
        self.tagger = tagger
        self.patches = patches

    def window(self, audio: np.ndarray) -> np.ndarray:
        """One window's row (``len(FEATURE_NAMES)``, float64); at least ``audio_features.N_FFT``
        samples."""
        return np.concatenate([audio_features.window_features(audio),
                               self.tagger.window_embedding(audio, self.patches)])

    def track(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """A track's vector (float32): its usable windows' rows, length-weighted.

        Raises:
            ValueError: no window holds at least one STFT frame of audio.
        """
        usable = audio_features.usable_windows(windows)
        rows = np.stack([self.window(w) for w in usable])
        weights = np.array([len(w) for w in usable], dtype=np.float64)
        return (weights @ rows / weights.sum()).astype(np.float32)
