"""Fitting the valence/energy feature model in numpy, and writing ``models/valence.json``.

The model: features mapped through their training quantiles to normal scores (optional), then
an ensemble of members (seeds) whose probabilities are averaged; each member is standardised
features, optionally one ReLU hidden layer, then a softmax over the
four quadrants of Russell's plane (Q1 happy, Q2 angry, Q3 sad, Q4 calm), trained with L2
weight decay by full-batch Adam on the cross-entropy. At run time valence is P(Q1) + P(Q4) and
energy P(Q1) + P(Q2); the file stores two linear read-outs of that form, see ``to_spec``.
Training a four-way softmax rather than two separate yes/no models measured better on 4Q
(valence AUC and sad-against-calm; see the card).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from appliance.music.estimate import normal_scores


@dataclass
class FitConfig:
    """Training settings: ``hidden`` 0 means a linear (multinomial logistic) model; ``members``
    seeds (``seed``, ``seed`` + 1, ...) are averaged; ``quantiles`` 0 means no quantile step."""

    hidden: int = 0
    l2: float = 1e-2
    steps: int = 1500
    rate: float = 0.01
    seed: int = 0
    members: int = 1
    quantiles: int = 0


@dataclass
class QuadrantModel:
    """Standardisation and dense layers; ``predict`` gives quadrant probabilities."""

    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weights inputs x outputs, bias)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows of features -> rows of P(Q1..Q4)."""
        h = (np.nan_to_num(x) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
        return _softmax(h)


@dataclass
class Ensemble:
    """The optional quantile step (knots features x K, normal K) and the averaged members."""

    knots: np.ndarray | None
    normal: np.ndarray | None
    members: list[QuadrantModel]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows of features -> rows of P(Q1..Q4), the members' mean."""
        x = np.nan_to_num(x).astype(np.float64)
        if self.knots is not None and self.normal is not None:
            x = normal_scores(x, self.knots, self.normal)
        return np.mean([member.predict(x) for member in self.members], axis=0)


def fit_ensemble(x: np.ndarray, quadrant: np.ndarray, config: FitConfig) -> Ensemble:
    """Fit the quantile step (if any) and ``config.members`` seeds (rows of NaN dropped)."""
    keep = ~np.isnan(x).any(axis=1)
    x, quadrant = x[keep].astype(np.float64), quadrant[keep]
    knots = normal = None
    if config.quantiles:
        levels = np.linspace(0, 1, config.quantiles)
        # 7 significant digits: what the JSON file keeps, so training sees what the box does
        knots = np.array([[float(f"{v:.7g}") for v in column]
                          for column in np.quantile(x, levels, axis=0).T])
        tail = 0.5 / len(x)  # the outer knots sit half a sample inside the tails
        normal = np.round([NormalDist().inv_cdf(min(max(p, tail), 1 - tail)) for p in levels], 6)
        x = normal_scores(x, knots, normal)
    members = [fit(x, quadrant, replace(config, seed=config.seed + i))
               for i in range(config.members)]
    return Ensemble(knots, normal, members)


def fit(x: np.ndarray, quadrant: np.ndarray, config: FitConfig) -> QuadrantModel:
    """Fit one member on features ``x`` and quadrants 1..4 (rows of NaN are dropped)."""
    keep = ~np.isnan(x).any(axis=1)
    x, quadrant = x[keep].astype(np.float64), quadrant[keep]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    target = np.eye(4)[quadrant - 1]
    rng = np.random.default_rng(config.seed)
    sizes = [z.shape[1], *([config.hidden] if config.hidden else []), 4]
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        params += [rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)) * (0.1 if n_out == 4 else 1),
                   np.zeros(n_out)]
    _adam(params, lambda p: _gradients(p, z, target, config.l2), config)
    layers = [(params[i], params[i + 1]) for i in range(0, len(params), 2)]
    return QuadrantModel(mean, scale, layers)


def _gradients(params: list[np.ndarray], z: np.ndarray, target: np.ndarray,
               l2: float) -> list[np.ndarray]:
    """Cross-entropy + L2 (weights only) gradients, by hand for one or two layers."""
    n = len(z)
    if len(params) == 2:
        w, b = params
        delta = (_softmax(z @ w + b) - target) / n
        return [z.T @ delta + l2 * w, delta.sum(axis=0)]
    w1, b1, w2, b2 = params
    pre = z @ w1 + b1
    hidden = np.maximum(pre, 0)
    delta = (_softmax(hidden @ w2 + b2) - target) / n
    back = (delta @ w2.T) * (pre > 0)
    return [z.T @ back + l2 * w1, back.sum(axis=0), hidden.T @ delta + l2 * w2, delta.sum(axis=0)]


def _adam(params: list[np.ndarray], grad: Callable[[list[np.ndarray]], list[np.ndarray]],
          config: FitConfig) -> None:
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for step in range(1, config.steps + 1):
        for p, g, m, v in zip(params, grad(params), first, second, strict=True):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= config.rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def valence_energy(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrant probabilities -> (valence, energy): P(Q1)+P(Q4), P(Q1)+P(Q2)."""
    p = probabilities
    return p[:, 0] + p[:, 3], p[:, 0] + p[:, 1]
