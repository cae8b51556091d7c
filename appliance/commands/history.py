"""``moodbox history``: list the stored plays, mood checks and choices, or erase them."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.errors import LibraryError
from appliance.music.history import Check, ChoiceRow, History, Play

EXIT_FAILED = 1
_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def register(subparsers: Any) -> None:
    """Add ``history``."""
    parser = subparsers.add_parser(
        "history", help="list the stored plays and mood checks, or erase them (--forget)")
    parser.add_argument("--since", type=duration, default=2 * 86400.0, metavar="AGE",
                        help="how far back to list, e.g. 90m, 12h, 2d, 1w (default 2d)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument("--forget", action="store_true",
                        help="erase the history (and what was learned from it) for good")
    parser.add_argument("--before", type=moment, default=None, metavar="DATE",
                        help="with --forget: only rows before DATE (2024-05-01, an ISO time, "
                             "or an age such as 30d)")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def duration(text: str) -> float:
    """Seconds in ``90m``, ``12h``, ``2d``, ``1w`` (a plain number is days)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not an age like 12h, 2d or 1w: {text!r}")
    return float(match[1]) * _UNITS[match[2] or "d"]


def moment(text: str) -> float:
    """Seconds since the epoch of an ISO date/time (local time), or of ``now - age``."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return time.time() - duration(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"not a date (2024-05-01, 2024-05-01T18:00) or an age (30d): {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """List or erase; returns the exit code."""
    config = config_from_args(args)
    if args.before is not None and not args.forget:
        print("moodbox: --before goes with --forget", file=sys.stderr)
        return 2
    try:
        with History.from_config(config) as history:
            if args.forget:
                gone = history.forget(args.before)
                print(f"erased {gone} rows{_until(args.before)} from {history.database} "
                      "(vacuumed: the bytes are gone from the file)")
                return 0
            since = time.time() - args.since
            plays, checks = history.plays(since), history.checks(since)
            choices = history.choices(since)
    except LibraryError as exc:
        print(f"moodbox: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"plays": [asdict(p) for p in plays],
                          "checks": [{**asdict(c), "probabilities": dict(c.probabilities)}
                                     for c in checks],
                          "choices": [asdict(c) for c in choices]}, indent=1))
    else:
        for _, line in sorted(_lines(plays, checks, choices), key=lambda x: x[0]):
            print(line)
        print(f"{len(plays)} plays, {len(checks)} mood checks, {len(choices)} choices",
              file=sys.stderr)
    return 0


def _until(before: float | None) -> str:
    return "" if before is None else f" before {_when(before)}"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _lines(plays: list[Play], checks: list[Check],
           choices: list[ChoiceRow]) -> list[tuple[float, str]]:
    out = []
    for p in plays:
        how = "playing" if p.how is None else f"{p.how} {100 * (p.fraction or 0):.0f}%"
        out.append((p.started, f"{_when(p.started)}  play    {how:14} {p.path}"))
    for c in checks:
        if c.outcome == "reading" or c.outcome == "unsure":
            what = f"{c.emotion} {100 * (c.confidence or 0):.0f}% v{c.valence or 0:+.2f} " \
                   f"a{c.arousal or 0:+.2f}"
        else:
            what = c.outcome.replace("_", " ")
        out.append((c.at, f"{_when(c.at)}  check   {c.cause:6} {what}  "
                          f"({c.faces} faces, {c.frames} frames)"))
    for ch in choices:
        flag = " [explored]" if ch.explored else ""
        out.append((ch.at, f"{_when(ch.at)}  choice  {ch.reason}{flag}"))
    return out
