"""``moodbox status``: what the running daemon is doing, from its state file."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.daemon.state import daemon_alive, describe_mood, describe_track, read_state

#: Exit code when no daemon is running (as ``systemctl status`` uses for inactive units).
EXIT_NOT_RUNNING = 3


def register(subparsers: Any) -> None:
    """Add the ``status`` subcommand."""
    parser = subparsers.add_parser(
        "status",
        help="show what the running daemon plays, its last mood check and the next one",
        description="Read the daemon's state file (daemon.state_file) and say what it is "
        f"doing. Exit code 0 while a daemon runs, {EXIT_NOT_RUNNING} when none does.",
    )
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the daemon's state; 0 if it is running, 3 if not."""
    path = config_from_args(args).daemon.state_file
    data = read_state(path)
    if data is None:
        print(f"No Moodbox daemon has run here: no state file at {path} "
              "(start it with `systemctl start moodbox`).")
        return EXIT_NOT_RUNNING
    now = time.time()
    if not daemon_alive(data.get("pid")):
        print(f"No Moodbox daemon is running (the state file {path} names pid "
              f"{data.get('pid')}, which is gone).")
        print(f"Last seen {_span(now - _number(data.get('updated'), now))} ago: "
              f"{data.get('state')}, {describe_track(data.get('track'))}.")
        return EXIT_NOT_RUNNING
    for line in report(data, now):
        print(line)
    return 0


def report(data: Mapping[str, Any], now: float) -> list[str]:
    """The lines ``moodbox status`` prints for a running daemon's state."""
    track = data.get("track")
    lines = [f"Moodbox is {str(data.get('state', '?')).replace('_', ' ')} (pid {data.get('pid')})"]
    if track:
        tags = ", ".join(
            f"{key} {track[key]:.2f}" if isinstance(track.get(key), int | float)
            else f"{key} untagged" for key in ("valence", "energy")
        )
        lines.append(f"  track:      {describe_track(track)} ({tags}, "
                     f"{_number(track.get('length_s'), 0):.0f} s)")
        lines.append(f"              {track.get('path')}")
    lines.append(f"  last mood:  {describe_mood(data.get('last_mood'), now)}")
    due = data.get("next_check_at")
    if isinstance(due, int | float):
        when = time.strftime("%H:%M:%S", time.localtime(due))
        lines.append(f"  next check: in {_span(max(0.0, due - now))} (at {when})")
    else:
        lines.append("  next check: none due (waiting, paused, or already chosen)")
    lines.append(f"  camera:     {data.get('camera', 'off')}")
    lines.append(f"  updated:    {_span(now - _number(data.get('updated'), now))} ago")
    return lines


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
