#!/usr/bin/env python3
"""A simulated listener for the learning: the real chooser and the real learning, over hundreds
of songs, with a listener whose mood drifts, tracks that lift it by planted amounts, noisy
readings and checks that see no face.

    .venv/bin/python scripts/simulate_listener.py --seeds 100        # the issue's targets

The listener's true mood valence ``m`` (-1..1) drifts toward a slowly wandering baseline; a
track adds its planted lift while it plays. Each check sees no face with probability
``no_face``, else reads ``m`` plus Gaussian noise; its emotion (sad, neutral or happy by the
read valence) is what ``choose_next`` acts on. After each play the pair (reading that chose the
track, reading at its end) is one ``Observation`` when both saw a face. Each seed is run with
and without learning on the same library and the same random draws for the listener.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.config import Config, parse_config
from appliance.mood.reading import LABELS, NO_FACE, MoodReading
from appliance.music.learning import Learned, Observation, learn, preference
from appliance.music.library import Track
from appliance.music.rules import choose_next


@dataclass(frozen=True)
class Scenario:
    """What the listener and the library are like."""

    tracks: int = 30
    lifted: int = 3
    lift: float = 0.3
    noise: float = 0.2
    no_face: float = 0.2
    songs: int = 200
    revert: float = 0.3  # share of the gap to the baseline closed per song
    drift: float = 0.05  # sd of the mood's own change per song
    wander: float = 0.03  # sd of the baseline's change per song


@dataclass(frozen=True)
class Run:
    """One seed's result."""

    played: tuple[str, ...]
    learned: Learned
    planted: frozenset[str]
    explored: int


def library(seed: int, scenario: Scenario) -> tuple[list[Track], dict[str, float]]:
    """Tracks spread over the plane and their planted lifts."""
    rng = random.Random(seed)
    tracks = [Track(f"/sim/{i:03d}.mp3", f"song {i}", "sim", 180.0,
                    round(rng.random(), 3), round(rng.random(), 3))
              for i in range(scenario.tracks)]
    lifted = rng.sample([t.path for t in tracks], scenario.lifted)
    return tracks, {t.path: scenario.lift if t.path in lifted else 0.0 for t in tracks}


def read(mood: float, rng: random.Random, scenario: Scenario) -> tuple[MoodReading, float | None]:
    """A noisy check of ``mood``: the reading the rules see and the valence learning sees."""
    if rng.random() < scenario.no_face:
        return MoodReading(NO_FACE, 0.0, {}, faces=0, frames=5), None
    seen = max(-1.0, min(1.0, mood + rng.gauss(0.0, scenario.noise)))
    emotion = "happy" if seen > 0.25 else "sad" if seen < -0.25 else "neutral"
    probabilities = {k: (0.7 if k == emotion else 0.05) for k in LABELS}
    return MoodReading(emotion, 0.7, probabilities, faces=1, frames=5), seen


def simulate(seed: int, scenario: Scenario, config: Config, learning: bool) -> Run:
    """Play ``scenario.songs`` songs for one seed, with or without learning."""
    tracks, lifts = library(seed, scenario)
    world = random.Random(seed * 7919 + 1)  # the listener: identical with and without learning
    chooser = random.Random(seed * 104729 + 2)  # exploration's dice
    mood = base = world.gauss(0.0, 0.3)
    reading, before = read(mood, world, scenario)
    history: list[Track] = []
    observations: list[Observation] = []
    learned = learn([], config.learning.prior_plays, config.learning.regions)
    explored = 0
    for _ in range(scenario.songs):
        prefer = preference(learned, config.learning, chooser) if learning else None
        choice = choose_next(reading, history[-1] if history else None, tracks, history,
                             config.rules, prefer)
        explored += "exploring" in choice.reason
        track = choice.track
        history.append(track)
        base = max(-0.8, min(0.8, base + world.gauss(0.0, scenario.wander)))
        mood += lifts[track.path] + scenario.revert * (base - mood) + world.gauss(0, scenario.drift)
        mood = max(-1.0, min(1.0, mood))
        reading, after = read(mood, world, scenario)
        if before is not None and after is not None:
            observations.append(Observation(track.path, track.valence, track.energy, before, after))
        before = after
        if learning:
            learned = learn(observations, config.learning.prior_plays, config.learning.regions)
    if not learning:
        learned = learn(observations, config.learning.prior_plays, config.learning.regions)
    planted = frozenset(p for p, v in lifts.items() if v > 0)
    return Run(tuple(t.path for t in history), learned, planted, explored)


def top(learned: Learned, tracks: list[Track], n: int) -> set[str]:
    """The ``n`` tracks with the largest learned lift."""
    return {t.path for t in sorted(tracks, key=lambda t: -learned.effect(t).lift)[:n]}


@dataclass(frozen=True)
class Summary:
    """The issue's targets over seeds."""

    seeds: int
    top3_rate: float
    share_learning: float
    share_plain: float
    null_clean_rate: float
    null_max_lift: float


def evaluate(seeds: int, scenario: Scenario, config: Config, first: int = 0) -> Summary:
    """Run every target over ``seeds`` seeds."""
    recovered, with_l, without_l, clean, worst = 0, [], [], 0, []
    last = 50
    null = replace(scenario, lift=0.0)
    for seed in range(first, first + seeds):
        tracks, _ = library(seed, scenario)
        run = simulate(seed, scenario, config, learning=True)
        plain = simulate(seed, scenario, config, learning=False)
        recovered += top(run.learned, tracks, scenario.lifted) == run.planted
        with_l.append(sum(p in run.planted for p in run.played[-last:]) / last)
        without_l.append(sum(p in plain.planted for p in plain.played[-last:]) / last)
        flat = simulate(seed, null, config, learning=True)
        biggest = max(flat.learned.effect(t).lift for t in tracks)
        worst.append(biggest)
        clean += biggest <= 0.1
    return Summary(seeds, recovered / seeds, statistics.fmean(with_l), statistics.fmean(without_l),
                   clean / seeds, max(worst))


def main(argv: list[str] | None = None) -> int:
    """Print the targets for the shipped config (or the strategy and learning given)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--strategy", choices=("iso", "uplift", "match"), default=None)
    parser.add_argument("--prior", type=float, default=None, help="learning.prior_plays")
    parser.add_argument("--explore", type=float, default=None, help="learning.explore")
    parser.add_argument("--weight", type=float, default=None, help="learning.weight")
    args = parser.parse_args(argv)
    overrides: dict[str, dict[str, object]] = {"rules": {}, "learning": {}}
    if args.strategy:
        overrides["rules"]["strategy"] = args.strategy
    for key in ("prior", "explore", "weight"):
        if getattr(args, key) is not None:
            name = {"prior": "prior_plays"}.get(key, key)
            overrides["learning"][name] = getattr(args, key)
    config = parse_config(overrides)
    s = evaluate(args.seeds, Scenario(songs=args.songs), config)
    print(f"strategy {config.rules.strategy}, learning {config.learning}, {s.seeds} seeds, "
          f"{args.songs} songs")
    print(f"planted top 3 recovered: {s.top3_rate:.0%} of seeds (target >= 90%)")
    ratio = s.share_learning / s.share_plain if s.share_plain else float("inf")
    print(f"planted share of the last 50 songs: {s.share_learning:.1%} with learning, "
          f"{s.share_plain:.1%} without ({ratio:.2f}x; target >= 2x)")
    print(f"no planted effect: max learned lift <= 0.1 in {s.null_clean_rate:.0%} of seeds "
          f"(target >= 95%), largest {s.null_max_lift:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
