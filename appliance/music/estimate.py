"""Valence and energy (0..1) of a track, estimated from its audio on the box.

Read a fixed budget of audio (``audio.read_excerpt``), turn it into one vector
(``track_vector``: numpy statistics and musicnn's embedding, the tagger run on the TFLite
runtime the box has anyway), and apply the shipped model ``models/valence.json``: each feature
mapped through its training quantiles to a normal score, then an ensemble of members
(standardisation, dense layers with ReLU between them, a softmax over the four quadrants of
Russell's plane: Q1 happy, Q2 angry, Q3 sad, Q4 calm) whose probabilities are averaged. Valence
is P(Q1) + P(Q4), energy P(Q1) + P(Q2), so each lies in 0..1 and reads as "how sure the model is
that the track is positive / energetic". The file is plain numbers, trained by
``scripts/train_valence.py``; it names the shipped tagger file and that file's SHA-256, so
its version (name plus a hash of the file, stored with each estimate) changes with either, and
a new model or tagger re-estimates the library. Its card is ``models/VALENCE_CARD.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from appliance.errors import AudioError, ModelError
from appliance.music.audio import read_excerpt
from appliance.music.tagger import DEFAULT_MODEL as TAGGER_MODEL
from appliance.music.tagger import Tagger
from appliance.music.track_vector import FEATURE_NAMES, FEATURES_VERSION, TrackVectors

if TYPE_CHECKING:
    from appliance.music.library import Library

log = logging.getLogger(__name__)

#: The shipped model, in the ``models/`` folder beside the package.
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "valence.json"
_OUTPUTS = ("Q1", "Q2", "Q3", "Q4")


@dataclass(frozen=True)
class Estimate:
    """One track's estimate: valence and energy in 0..1, the model's version, the cost."""

    valence: float
    energy: float
    model: str
    seconds_read: float  # of audio decoded
    cpu_s: float  # CPU time of decode + features + model, this thread


@dataclass(frozen=True)
class _Layer:
    weights: np.ndarray  # inputs x outputs
    bias: np.ndarray
    activation: str  # "relu" or "linear"


@dataclass(frozen=True)
class _Member:
    mean: np.ndarray
    scale: np.ndarray
    layers: list[_Layer]

    def quadrants(self, x: np.ndarray) -> np.ndarray:
        x = (x - self.mean) / self.scale
        for layer in self.layers:
            x = x @ layer.weights + layer.bias
            if layer.activation == "relu":
                x = np.maximum(x, 0)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def normal_scores(x: np.ndarray, knots: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Map each column of ``x`` through its quantile ``knots`` (features x K) onto ``normal``
    (the standard normal's K quantiles); values beyond the outer knots are clamped."""
    return np.stack([np.interp(x[:, j], knots[j], normal) for j in range(x.shape[1])], axis=1)


class ValenceEstimator:
    """The feature model, loaded once; ``estimate(path)`` per track. Stateless afterwards."""

    def __init__(self, model: Path | None = None) -> None:
        """Load ``model`` (default: the shipped ``models/valence.json``).

        Raises:
            ModelError: the file is missing, not JSON, or not the shape its features need.
        """
        self.path = Path(model) if model is not None else DEFAULT_MODEL
        spec, digest = _read_spec(self.path)
        self.version = _version(self.path, spec, digest)
        try:
            self._windows = int(spec["windows"])
            self._window_s = float(spec["window_s"])
            quantiles = spec.get("quantiles")
            self._knots = None if quantiles is None else (
                np.asarray(quantiles["knots"], dtype=np.float64),
                np.asarray(quantiles["normal"], dtype=np.float64))
            # A format-1 file is one member with no quantile step.
            self._members = [_member(m) for m in spec.get("members", [spec])]
            tagger = spec["tagger"]
            # The tagger is the appliance's own; the file names which one, by name and digest.
            tagger_path = TAGGER_MODEL.parent / str(tagger["file"])
            tagger_sha = str(tagger["sha256"])
            patches = int(tagger["patches"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{self.path}: not a valence model: {exc!r}") from exc
        _check_shapes(self.path, spec, self._knots, self._members)
        if not 1 <= patches <= 3:
            raise ModelError(f"{self.path}: tagger.patches must be 1..3, not {patches}")
        self._vectors = TrackVectors(Tagger(tagger_path, sha256=tagger_sha), patches)

    def estimate(self, path: Path) -> Estimate:
        """Estimate one file, reading at most the model's window budget.

        Raises:
            AudioError: the file cannot be decoded, or is too short or silent.
        """
        started = time.thread_time()
        excerpt = read_excerpt(Path(path), self._windows, self._window_s)
        try:
            features = self._vectors.track(excerpt.windows)
        except ValueError as exc:
            raise AudioError(f"{path}: {exc}") from exc
        valence, energy = self.predict(features[None, :])[0]
        result = Estimate(round(float(valence), 3), round(float(energy), 3), self.version,
                          excerpt.seconds, time.thread_time() - started)
        log.debug("%s: valence %.2f energy %.2f (%.1f s read, %.2f s CPU)", path,
                  result.valence, result.energy, result.seconds_read, result.cpu_s)
        return result

    @property
    def tagger_path(self) -> Path:
        """The music tagger file the model reads."""
        return self._vectors.tagger.path

    def close(self) -> None:
        """Release the tagger's memory; the estimator is unusable afterwards."""
        self._vectors.tagger.close()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Rows of ``FEATURE_NAMES`` features -> rows of (valence, energy) in 0..1."""
        p = self.quadrants(features)
        return np.stack([p[:, 0] + p[:, 3], p[:, 0] + p[:, 1]], axis=1)

    def quadrants(self, features: np.ndarray) -> np.ndarray:
        """Rows of ``FEATURE_NAMES`` features -> rows of P(Q1), P(Q2), P(Q3), P(Q4)."""
        x = np.nan_to_num(np.asarray(features, dtype=np.float64))
        if self._knots is not None:
            x = normal_scores(x, *self._knots)
        return np.mean([member.quadrants(x) for member in self._members], axis=0)


def estimate_pending(
    library: Library,
    estimator: ValenceEstimator,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    soon: Callable[[], Sequence[str]] | None = None,
) -> tuple[int, int]:
    """Estimate every track the library lists as pending for this model (see ``Library``).

    A file that cannot be estimated is recorded with its one-line reason and not tried again
    until it or the model changes. ``progress(done, total)`` follows each track; ``stop()``
    is asked between tracks; ``soon()`` names the tracks about to be played (asked again
    before each track), which go first. Returns (estimated, failed).

    Raises:
        LibraryError: the database cannot be read or written.
    """
    paths = library.pending_estimates(estimator.version)
    remaining = dict.fromkeys(paths)  # an ordered set
    done = failed = 0
    while remaining:
        if stop is not None and stop():
            break
        path = next((p for p in (soon() if soon else ()) if p in remaining), next(iter(remaining)))
        del remaining[path]
        try:
            result = estimator.estimate(Path(path))
        except AudioError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            log.warning("%s: no estimate: %s", path, reason)
            library.store_estimate(path, estimator.version, None, None, reason)
            failed += 1
        else:
            library.store_estimate(path, result.model, result.valence, result.energy)
            done += 1
        if progress is not None:
            progress(done + failed, len(paths))
    if paths:
        log.info("estimated %d tracks with %s, %d failed", done, estimator.version, failed)
    return done, failed


def model_version(model: Path | None = None) -> str:
    """The version a model file (default: the shipped one) stores with its estimates, read
    without loading the model or its tagger.

    Raises:
        ModelError: the file is missing, not JSON, or has no name.
    """
    path = Path(model) if model is not None else DEFAULT_MODEL
    return _version(path, *_read_spec(path))


def _version(path: Path, spec: dict[str, Any], digest: str) -> str:
    """Name plus the start of the file's SHA-256: either change makes new estimates."""
    if not isinstance(spec.get("name"), str):
        raise ModelError(f"{path}: not a valence model: it has no name")
    return f"{spec['name']}-{digest[:8]}"


def _read_spec(path: Path) -> tuple[dict[str, Any], str]:
    try:
        raw = path.read_bytes()
        spec = json.loads(raw)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the valence model: {exc.strerror}") from exc
    except ValueError as exc:
        raise ModelError(f"{path}: the valence model is not valid JSON: {exc}") from exc
    if not isinstance(spec, dict):
        raise ModelError(f"{path}: the valence model is not a JSON object")
    return spec, hashlib.sha256(raw).hexdigest()


def _member(spec: dict[str, Any]) -> _Member:
    layers = [_Layer(np.asarray(layer["weights"], dtype=np.float64),
                     np.asarray(layer["bias"], dtype=np.float64),
                     str(layer["activation"])) for layer in spec["layers"]]
    return _Member(np.asarray(spec["mean"], dtype=np.float64),
                   np.asarray(spec["scale"], dtype=np.float64), layers)


def _check_shapes(path: Path, spec: dict[str, Any],
                  knots: tuple[np.ndarray, np.ndarray] | None, members: list[_Member]) -> None:
    """The model must take exactly this package's features and give (valence, energy)."""
    same = spec.get("features_version") == FEATURES_VERSION
    if not same or list(spec.get("features", [])) != list(FEATURE_NAMES):
        raise ModelError(f"{path}: trained on other features than this package computes; "
                         "retrain with scripts/train_valence.py")
    if list(spec.get("outputs", [])) != list(_OUTPUTS):
        raise ModelError(f"{path}: outputs must be {list(_OUTPUTS)}")
    if knots is not None and (knots[0].shape != (len(FEATURE_NAMES), len(knots[1]))
                              or np.any(np.diff(knots[0], axis=1) < 0)):
        raise ModelError(f"{path}: the quantile knots do not fit {len(FEATURE_NAMES)} features")
    if not members:
        raise ModelError(f"{path}: the model has no members")
    for member in members:
        _check_member(path, member)


def _check_member(path: Path, member: _Member) -> None:
    width = len(FEATURE_NAMES)
    mean, scale, layers = member.mean, member.scale, member.layers
    if mean.shape != (width,) or scale.shape != (width,) or np.any(scale <= 0) or not layers:
        raise ModelError(f"{path}: standardisation or layers do not fit {width} features")
    for layer in layers:
        if layer.weights.shape != (width, len(layer.bias)) or layer.activation not in (
                "relu", "linear"):
            raise ModelError(f"{path}: a layer of shape {layer.weights.shape} does not fit")
        width = len(layer.bias)
    if width != len(_OUTPUTS):
        raise ModelError(f"{path}: the last layer gives {width} outputs, not 4")
