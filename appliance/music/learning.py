"""Learning which songs lift this listener's mood, from the checks the box already makes.

Each play of a track gives one observation: the reading that chose it (``before``) and the
reading at its end (``after``), both as mood valence (-1..1, ``appliance.mood.circumplex``).
Checks that saw no face or were unsure give none. A play cut short by the button counts by the
fraction played.

The effect of a track is how much higher its end reading is than this listener's end reading
after an average song that started from the same mood: a weighted least-squares line
``after = alpha + beta * before`` over every observation is the baseline, which takes out the
regression to the mean that would otherwise credit the uplifting songs chosen after a reading
that was low by chance. The mean residual of a track, shrunk toward its region's (a cell of the
valence/energy plane) with a prior worth ``prior_plays`` plays, is its lift; a region's is
shrunk toward zero the same way, so a new track inherits its neighbours' lift and a track
heard a few times stays near it.

``preference`` turns that into a choice among the tracks the rules' band allows (best first by
the rules' own order), with a little exploration of the least known ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from appliance.config_schema import LearningConfig
from appliance.music.library import Track
from appliance.music.rules import Pick, Prefer

#: Learned lift (valence) that one place in the rules' own order is worth at weight 1:
#: a track 0.05 better than the least recently played one wins over variety.
VARIETY = 0.05
#: Observations needed before the baseline line is fitted (before that: plain differences).
MIN_FIT = 10
_NEUTRAL = 0.5
K = TypeVar("K")


@dataclass(frozen=True)
class Observation:
    """One play's evidence.

    Attributes:
        path: the track.
        valence: the track's valence 0..1 at play time (``None`` = untagged).
        energy: the track's energy 0..1 at play time (``None`` = untagged).
        before: mood valence of the reading that chose it.
        after: mood valence of the reading at its end.
        weight: 1 for a play heard to its end, the fraction played when cut short.
    """

    path: str
    valence: float | None
    energy: float | None
    before: float
    after: float
    weight: float = 1.0


@dataclass(frozen=True)
class Effect:
    """A learned lift of mood valence and the plays' worth of evidence behind it."""

    lift: float = 0.0
    plays: float = 0.0


@dataclass(frozen=True)
class Learned:
    """What was learned: per track, per region, and the baseline line."""

    tracks: Mapping[str, Effect]
    regions: Mapping[tuple[int, int], Effect]
    cells: int
    baseline: tuple[float, float] = (0.0, 1.0)

    def effect(self, track: Track) -> Effect:
        """The track's own effect, or its region's (with 0 plays) when it was never heard."""
        own = self.tracks.get(track.path)
        if own is not None:
            return own
        return Effect(self.regions.get(region(track.valence, track.energy, self.cells),
                                       Effect()).lift, 0.0)


def region(valence: float | None, energy: float | None, cells: int) -> tuple[int, int]:
    """The grid cell of a point of the valence/energy plane (untagged counts as 0.5)."""
    v = _NEUTRAL if valence is None else valence
    e = _NEUTRAL if energy is None else energy
    return min(cells - 1, int(v * cells)), min(cells - 1, int(e * cells))


def fit_baseline(observations: Sequence[Observation]) -> tuple[float, float]:
    """``(alpha, beta)`` of the weighted line ``after = alpha + beta * before``.

    With fewer than ``MIN_FIT`` observations, or no spread in ``before``, it is ``(0, 1)``:
    the plain change of mood. ``beta`` is kept within 0..1.
    """
    total = sum(o.weight for o in observations)
    if len(observations) < MIN_FIT or total <= 0:
        return 0.0, 1.0
    mean_b = sum(o.weight * o.before for o in observations) / total
    mean_a = sum(o.weight * o.after for o in observations) / total
    var = sum(o.weight * (o.before - mean_b) ** 2 for o in observations)
    if var < 1e-9:
        return 0.0, 1.0
    cov = sum(o.weight * (o.before - mean_b) * (o.after - mean_a) for o in observations)
    beta = max(0.0, min(1.0, cov / var))
    return mean_a - beta * mean_b, beta


def learn(observations: Iterable[Observation], prior_plays: float, cells: int) -> Learned:
    """Per-track and per-region lifts from ``observations`` (see the module docstring)."""
    kept = [o for o in observations if o.weight > 0]
    alpha, beta = fit_baseline(kept)
    by_track: dict[str, list[float]] = {}
    by_region: dict[tuple[int, int], list[float]] = {}
    where: dict[str, tuple[int, int]] = {}
    for o in kept:
        residual = o.after - (alpha + beta * o.before)
        cell = region(o.valence, o.energy, cells)
        where[o.path] = cell  # the latest tags win
        _add(by_track, o.path, residual, o.weight)
        _add(by_region, cell, residual, o.weight)
    regions = {c: Effect(s / (w + prior_plays), w) for c, (s, w) in by_region.items()}
    tracks = {
        p: Effect((s + prior_plays * regions[where[p]].lift) / (w + prior_plays), w)
        for p, (s, w) in by_track.items()
    }
    return Learned(tracks, regions, cells, (alpha, beta))


def _add(sums: dict[K, list[float]], key: K, value: float, weight: float) -> None:
    acc = sums.setdefault(key, [0.0, 0.0])
    acc[0] += weight * value
    acc[1] += weight


def preference(learned: Learned, settings: LearningConfig, rng: random.Random) -> Prefer:
    """A chooser among the band's tracks that weighs the learned lift against variety.

    Each track scores ``weight * lift - VARIETY * place / (n - 1)``, where ``place`` is its
    place in the rules' order (0 = the rules' own pick); with probability ``explore`` the
    track with the least evidence is tried instead, and the pick says it explored. Weight 0
    keeps the rules' pick.
    """

    def prefer(ranked: Sequence[Track]) -> Pick:
        if not ranked:
            raise ValueError("no tracks to choose from")
        effects = [learned.effect(t) for t in ranked]
        # Weight 0 turns learning off, exploring included: the rules' own pick stands.
        explores = settings.weight > 0 and settings.explore > 0 and len(ranked) > 1
        if explores and rng.random() < settings.explore:
            i = min(range(len(ranked)), key=lambda k: (effects[k].plays, k))
            return Pick(ranked[i], f"exploring: the least known ({effects[i].plays:.1f} plays)",
                        explored=True)
        span = max(1, len(ranked) - 1)
        scores = [settings.weight * e.lift - VARIETY * k / span for k, e in enumerate(effects)]
        i = max(range(len(ranked)), key=lambda k: (scores[k], -k))
        effect = effects[i]
        said = _said(effect)
        if i == 0:
            return Pick(ranked[0], f"least recently played ({said})")
        return Pick(ranked[i], f"the best learned lift ({said})")

    return prefer


def _said(effect: Effect) -> str:
    """What the reason line says of a track's learned effect."""
    if effect.plays:
        return f"learned lift {effect.lift:+.2f} over {effect.plays:.1f} plays"
    if effect.lift:  # never heard: its region's effect stands in for its own
        return f"not heard yet; its region's learned lift {effect.lift:+.2f}"
    return "nothing learned yet"
