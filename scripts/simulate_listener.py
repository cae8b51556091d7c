#!/usr/bin/env python3
"""A simulated listener for the learning: the real chooser and the real learning, over hundreds
of songs, with a listener whose mood drifts, tracks that lift it by planted amounts, noisy
readings and checks that see no face.

    .venv/bin/python scripts/simulate_listener.py --seeds 100        # the issue's targets
    .venv/bin/python scripts/simulate_listener.py --seeds 30 --step 1  # the band opened

The listener's true mood valence ``m`` (-1..1) drifts toward a slowly wandering baseline; a
track adds its planted lift while it plays. Each check sees no face with probability
``no_face``, else reads ``m`` plus Gaussian noise; its emotion (sad, neutral or happy by the
read valence) is what ``choose_next`` acts on. After each play the pair (reading that chose the
track, reading at its end) is one ``Observation`` when both saw a face. Each seed is run with
and without learning on the same library and the same random draws for the listener.

The library is spread ``uniform`` over the valence/energy plane, like recorded music at large
(``catalog``) or uniform over the part the shipped rules reach (``reach``). Beside the targets
it prints a ceiling: the same rules with a preference that knows the planted tracks and takes
one whenever the band holds one. No learner inside the band can do much better than that (it
is greedy, so not a strict bound), which tells the rules' limit from the learning's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.config import Config, parse_config
from appliance.mood.reading import LABELS, NO_FACE, MoodReading
from appliance.music.learning import Learned, Observation, learn, preference
from appliance.music.library import Track
from appliance.music.rules import Pick, Prefer, choose_next


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
    spread: str = "uniform"  # the library's valence/energy: "uniform", "catalog" or "reach"


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
    tracks = [Track(f"/sim/{i:03d}.mp3", f"song {i}", "sim", 180.0, *point(rng, scenario.spread))
              for i in range(scenario.tracks)]
    lifted = rng.sample([t.path for t in tracks], scenario.lifted)
    return tracks, {t.path: scenario.lift if t.path in lifted else 0.0 for t in tracks}


def point(rng: random.Random, spread: str) -> tuple[float, float]:
    """A track's (valence, energy): ``uniform`` over the plane; ``catalog``: like recorded
    music at large, centred (valence Beta(2, 2), sd 0.22) and energy rising with valence;
    ``reach``: uniform over the box the shipped rules' mood points and targets span."""
    if spread == "uniform":
        return round(rng.random(), 3), round(rng.random(), 3)
    if spread == "reach":
        return round(rng.uniform(0.15, 0.85), 3), round(rng.uniform(0.25, 0.7), 3)
    valence = rng.betavariate(2.0, 2.0)
    energy = max(0.0, min(1.0, 0.5 + 0.5 * (valence - 0.5) + rng.gauss(0.0, 0.18)))
    return round(valence, 3), round(energy, 3)


def read(mood: float, rng: random.Random, scenario: Scenario) -> tuple[MoodReading, float | None]:
    """A noisy check of ``mood``: the reading the rules see and the valence learning sees."""
    if rng.random() < scenario.no_face:
        return MoodReading(NO_FACE, 0.0, {}, faces=0, frames=5), None
    seen = max(-1.0, min(1.0, mood + rng.gauss(0.0, scenario.noise)))
    emotion = "happy" if seen > 0.25 else "sad" if seen < -0.25 else "neutral"
    probabilities = {k: (0.7 if k == emotion else 0.05) for k in LABELS}
    return MoodReading(emotion, 0.7, probabilities, faces=1, frames=5), seen


def simulate(seed: int, scenario: Scenario, config: Config, learning: bool,
             ceiling: bool = False) -> Run:
    """Play ``scenario.songs`` songs for one seed, with or without learning.

    ``ceiling`` replaces the learning's preference by one that knows the planted tracks and
    picks one whenever the rules' band holds one: not a learner, the most any preference
    inside the band could play them (greedily), to tell the rules' limit from the learning's.
    """
    tracks, lifts = library(seed, scenario)
    planted = frozenset(p for p, v in lifts.items() if v > 0)
    world = random.Random(seed * 7919 + 1)  # the listener: identical with and without learning
    chooser = random.Random(seed * 104729 + 2)  # exploration's dice
    mood = base = world.gauss(0.0, 0.3)
    reading, before = read(mood, world, scenario)
    history: list[Track] = []
    observations: list[Observation] = []
    learned = learn([], config.learning.prior_plays, config.learning.regions)
    explored = 0
    for _ in range(scenario.songs):
        prefer = (_knowing(planted) if ceiling else
                  preference(learned, config.learning, chooser) if learning else None)
        choice = choose_next(reading, history[-1] if history else None, tracks, history,
                             config.rules, prefer)
        explored += choice.explored
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
    return Run(tuple(t.path for t in history), learned, planted, explored)


def _knowing(planted: frozenset[str]) -> Prefer:
    """The ceiling's preference: a planted track whenever the band holds one."""

    def prefer(ranked: Sequence[Track]) -> Pick:
        return Pick(next((t for t in ranked if t.path in planted), ranked[0]), "ceiling")

    return prefer


def top(learned: Learned, tracks: list[Track], n: int) -> set[str]:
    """The ``n`` tracks with the largest learned lift."""
    return {t.path for t in sorted(tracks, key=lambda t: -learned.effect(t).lift)[:n]}


@dataclass(frozen=True)
class Summary:
    """The issue's targets over seeds, and what the rules allow at most (``*_ceiling``)."""

    seeds: int
    top3_rate: float
    share_learning: float
    share_plain: float
    null_clean_rate: float
    null_max_lift: float
    share_ceiling: float = 0.0
    heard_learning: float = 0.0  # seeds where each planted track gave an observation at all
    heard_ceiling: float = 0.0


def share(run: Run, last: int = 50) -> float:
    """The planted tracks' share of the last ``last`` songs."""
    return sum(p in run.planted for p in run.played[-last:]) / last


def heard(run: Run) -> bool:
    """Whether every planted track gave at least one observation (else no learner ranks it)."""
    return all(p in run.learned.tracks for p in run.planted)


def evaluate(seeds: int, scenario: Scenario, config: Config, first: int = 0) -> Summary:
    """Run every target over ``seeds`` seeds, and the ceiling the rules leave."""
    recovered, clean, worst, heard_all, heard_any = 0, 0, [], 0, 0
    shares: dict[str, list[float]] = {"learning": [], "plain": [], "ceiling": []}
    null = replace(scenario, lift=0.0)
    for seed in range(first, first + seeds):
        tracks, _ = library(seed, scenario)
        run = simulate(seed, scenario, config, learning=True)
        recovered += top(run.learned, tracks, scenario.lifted) == run.planted
        heard_any += heard(run)
        shares["learning"].append(share(run))
        shares["plain"].append(share(simulate(seed, scenario, config, learning=False)))
        best = simulate(seed, scenario, config, learning=False, ceiling=True)
        shares["ceiling"].append(share(best))
        heard_all += heard(best)
        flat = simulate(seed, null, config, learning=True)
        biggest = max(flat.learned.effect(t).lift for t in tracks)
        worst.append(biggest)
        clean += biggest <= 0.1
    mean = {k: statistics.fmean(v) for k, v in shares.items()}
    return Summary(seeds, recovered / seeds, mean["learning"], mean["plain"], clean / seeds,
                   max(worst), mean["ceiling"], heard_any / seeds, heard_all / seeds)


def settings(args: argparse.Namespace) -> Config:
    """The shipped config with the rules and learning given on the command line."""
    rules = {"strategy": args.strategy, "no_repeat": args.no_repeat, "step": args.step}
    learning = {"prior_plays": args.prior, "explore": args.explore, "weight": args.weight}
    return parse_config({
        "rules": {k: v for k, v in rules.items() if v is not None},
        "learning": {k: v for k, v in learning.items() if v is not None},
    })


def report(s: Summary) -> list[str]:
    """The summary against the issue's targets, one line each."""
    def ratio(x: float) -> str:
        return f"{x / s.share_plain:.2f}x" if s.share_plain else "inf"

    return [
        f"planted top 3 recovered: {s.top3_rate:.0%} of seeds (target >= 90%); every planted "
        f"track observed at least once in {s.heard_learning:.0%} (ceiling {s.heard_ceiling:.0%})",
        f"planted share of the last 50 songs: {s.share_learning:.1%} with learning, "
        f"{s.share_plain:.1%} without ({ratio(s.share_learning)}; target >= 2x); ceiling "
        f"{s.share_ceiling:.1%} ({ratio(s.share_ceiling)})",
        f"no planted effect: max learned lift <= 0.1 in {s.null_clean_rate:.0%} of seeds "
        f"(target >= 95%), largest {s.null_max_lift:+.3f}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the targets for the shipped config (or the rules and learning given)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--strategy", choices=("iso", "uplift", "match"), default=None)
    parser.add_argument("--no-repeat", type=int, default=None, help="rules.no_repeat")
    parser.add_argument("--step", type=float, default=None, help="rules.step (1: no band)")
    parser.add_argument("--prior", type=float, default=None, help="learning.prior_plays")
    parser.add_argument("--explore", type=float, default=None, help="learning.explore")
    parser.add_argument("--weight", type=float, default=None, help="learning.weight")
    parser.add_argument("--spread", choices=("uniform", "catalog", "reach"), default="uniform",
                        help="the library's valence/energy (see point())")
    args = parser.parse_args(argv)
    config = settings(args)
    s = evaluate(args.seeds, Scenario(songs=args.songs, spread=args.spread), config)
    print(f"strategy {config.rules.strategy} (step {config.rules.step}, no_repeat "
          f"{config.rules.no_repeat}), learning {config.learning}, {s.seeds} seeds, "
          f"{args.songs} songs, {args.spread} library")
    print("\n".join(report(s)))
    print("ceiling: a preference that knows the planted tracks and picks one whenever the "
          "band holds one (greedy; a bound on what the rules let any learning do)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
