"""``moodbox report``: one PNG page of the mood history and what was learned, and a summary.

matplotlib is an extra (``pip install moodbox[report]``), imported only here, on Agg.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.commands.history import duration
from appliance.config import Config
from appliance.errors import LibraryError
from appliance.mood.reading import LABELS
from appliance.music.history import Check, History, Play
from appliance.music.learning import Effect
from appliance.music.library import Library

EXIT_FAILED = 1
COLOURS = {"angry": "tab:red", "disgust": "tab:olive", "fear": "tab:purple",
           "happy": "gold", "sad": "tab:blue", "surprise": "tab:orange", "neutral": "tab:gray"}


def register(subparsers: Any) -> None:
    """Add ``report``."""
    parser = subparsers.add_parser(
        "report", help="draw the mood history and the songs that help on one PNG page")
    parser.add_argument("--since", type=duration, default=7 * 86400.0, metavar="AGE",
                        help="how far back, e.g. 12h, 7d, 4w (default 7d)")
    parser.add_argument("--png", type=Path, required=True, metavar="FILE", help="the page")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Summarise and draw; returns the exit code."""
    config = config_from_args(args)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("moodbox: the report needs matplotlib: pip install 'moodbox[report]'",
              file=sys.stderr)
        return EXIT_FAILED
    try:
        data = _gather(config, time.time() - args.since)
    except LibraryError as exc:
        print(f"moodbox: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in summary(*data):
        print(line)
    figure = draw(plt, *data)
    try:
        figure.savefig(args.png, dpi=100)
    except OSError as exc:
        print(f"moodbox: cannot write {args.png}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        plt.close(figure)
    print(f"report written to {args.png}", file=sys.stderr)
    return 0


Top = list[tuple[str, Effect]]


def _gather(config: Config, since: float) -> tuple[list[Check], list[Play], Top]:
    """Checks and plays in range, and the ten largest learned lifts (from all the history)."""
    with History.from_config(config) as history:
        checks, plays = history.checks(since), history.plays(since)
        learned = history.learned(config.learning)
    with Library(config.library.database) as library:
        names = {}
        for path in learned.tracks:
            track = library.get(path)
            names[path] = track.title if track else Path(path).stem
    best = sorted(learned.tracks.items(), key=lambda kv: -kv[1].lift)[:10]
    return checks, plays, [(names[p], e) for p, e in best]


def summary(checks: list[Check], plays: list[Play], top: Top) -> list[str]:
    """The text summary: counts, the mean mood, each emotion's share, the best songs."""
    readings = [c for c in checks if c.outcome == "reading"]
    lines = [f"{len(plays)} plays, {len(checks)} mood checks: {len(readings)} readings, "
             + ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in collections.Counter(
                 c.outcome for c in checks if c.outcome != "reading").items())]
    valences = [c.valence for c in readings if c.valence is not None]
    if valences:
        lines.append(f"mood valence: mean {sum(valences) / len(valences):+.2f}, "
                     f"from {min(valences):+.2f} to {max(valences):+.2f}")
        shares = collections.Counter(c.emotion for c in readings)
        lines.append("emotions: " + ", ".join(f"{e} {n / len(readings):.0%}"
                                              for e, n in shares.most_common()))
    for name, effect in top:
        lines.append(f"  lift {effect.lift:+.2f} over {effect.plays:.1f} plays: {name}")
    return lines


def draw(plt: Any, checks: list[Check], plays: list[Play], top: Top) -> Any:
    """The page: mood and track valence over time, emotions per day, the best songs."""
    figure, axes = plt.subplots(3, 1, figsize=(11, 13), gridspec_kw={"height_ratios": [3, 2, 2]})
    _mood(axes[0], checks, plays)
    _days(axes[1], checks)
    _top(axes[2], top)
    figure.suptitle(f"Moodbox: {len(checks)} mood checks, {len(plays)} plays")
    figure.tight_layout()
    return figure


def _mood(ax: Any, checks: list[Check], plays: list[Play]) -> None:
    ax.set_title("mood valence (points by emotion; gaps: no face) and track valence (steps)")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("mood valence")
    times = [datetime.fromtimestamp(c.at) for c in checks]
    # The line breaks where a check saw no face or failed: NaN is a gap to matplotlib.
    line = [c.valence if c.valence is not None else float("nan") for c in checks]
    ax.plot(times, line, color="0.8", linewidth=0.6, zorder=1)
    for emotion in LABELS:
        mine = [(t, c.valence) for t, c in zip(times, checks, strict=True)
                if c.emotion == emotion and c.outcome == "reading"]
        if mine:
            ax.scatter(*zip(*mine, strict=True), s=10, color=COLOURS[emotion], label=emotion,
                       zorder=2)
    twin = ax.twinx()
    twin.set_ylim(-0.025, 1.025)
    twin.set_ylabel("track valence")
    tagged = [(datetime.fromtimestamp(p.started), p.valence) for p in plays]
    if tagged:
        values = [0.5 if v is None else v for _, v in tagged]
        twin.step([t for t, _ in tagged], values, where="post", color="0.2", linewidth=0.5,
                  alpha=0.5)
    if not checks and not plays:
        ax.text(0.5, 0.5, "no plays or mood checks in this range", ha="center",
                transform=ax.transAxes)
    elif any(c.outcome == "reading" for c in checks):
        ax.legend(loc="upper left", fontsize="small", ncol=7)


def _days(ax: Any, checks: list[Check]) -> None:
    ax.set_title("share of each emotion per day")
    per_day: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for c in checks:
        if c.outcome == "reading" and c.emotion:
            per_day[datetime.fromtimestamp(c.at).strftime("%m-%d")][c.emotion] += 1
    if not per_day:
        ax.text(0.5, 0.5, "no readings in this range", ha="center", transform=ax.transAxes)
        return
    days = sorted(per_day)
    bottom = [0.0] * len(days)
    for emotion in LABELS:
        shares = [per_day[d][emotion] / sum(per_day[d].values()) for d in days]
        ax.bar(days, shares, bottom=bottom, color=COLOURS[emotion], label=emotion)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelrotation=90, labelsize="small")


def _top(ax: Any, top: Top) -> None:
    ax.set_title("largest learned lift of mood valence (plays behind each)")
    if not top:
        ax.text(0.5, 0.5, "nothing learned yet", ha="center", transform=ax.transAxes)
        return
    names = [f"{name[:40]} ({effect.plays:.0f})" for name, effect in reversed(top)]
    ax.barh(names, [effect.lift for _, effect in reversed(top)], color="tab:green")
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("lift of mood valence")
