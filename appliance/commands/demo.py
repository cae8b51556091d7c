"""``moodbox demo``: the whole appliance on any Linux machine, with simulated hardware.

A generated music library (synthetic pieces tagged with valence and energy), a ``files:``
camera over public-domain photos (or a webcam), a mock button driven from the keyboard, the
default audio output if there is one (else silence), and every decision printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.commands.run import serve
from appliance.config import Config
from appliance.daemon.events import EventLog, describe
from appliance.daemon.loop import Daemon
from appliance.demo import copy_photos, make_music
from appliance.music.player import default_output

#: Seconds before a track's end that the demo checks the mood (its pieces are short).
DEMO_LEAD_S = 8.0


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the appliance on simulated hardware with a generated music library",
        description="Generate a small demo library and run the daemon with a files: camera "
        "over public-domain photos, a mock button (Enter presses it) and the default audio "
        "output. Ctrl-C stops it.",
    )
    add_config_argument(parser)
    parser.add_argument("--camera", default=None, metavar="SOURCE",
                        help="camera source instead of the photos, e.g. opencv:0 (a webcam)")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="stop by itself after N seconds")
    parser.add_argument("--folder", type=Path, default=None, metavar="DIR",
                        help="where the demo library goes (default: the user's cache folder)")
    parser.add_argument("--output", choices=("alsa", "pulse", "dummy"), default=None,
                        help="audio output (default: pulse or alsa if one works, else dummy)")
    parser.add_argument("--events", type=Path, default=None, metavar="PATH",
                        help="also write the decisions to PATH as JSON lines")
    parser.set_defaults(func=run)


def demo_folder() -> Path:
    """``$XDG_CACHE_HOME/moodbox/demo`` (``~/.cache/moodbox/demo``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "moodbox" / "demo"


def demo_config(base: Config, folder: Path, camera: str | None, output: str) -> Config:
    """``base`` with the demo's library, camera, mock GPIO, output and state file."""
    photos = f"files:{folder / 'photos'}"
    return dataclasses.replace(
        base,
        library=dataclasses.replace(base.library, music_dir=folder / "music",
                                    database=folder / "library.sqlite3"),
        # One photo per check, so each check shows the next person.
        camera=dataclasses.replace(base.camera, source=camera or photos, lead_s=DEMO_LEAD_S,
                                   frames=base.camera.frames if camera else 1,
                                   warmup_s=base.camera.warmup_s if camera else 0.0),
        audio=dataclasses.replace(base.audio, output=output, device=""),
        gpio=dataclasses.replace(base.gpio, pin_factory="mock"),
        daemon=dataclasses.replace(base.daemon, state_file=folder / "state.json", events=None),
    )


def run(args: argparse.Namespace) -> int:
    """Prepare the demo folder and run the daemon until Ctrl-C or ``--seconds``."""
    if not args.verbose:  # the printed events say it all; keep warnings
        logging.getLogger().setLevel(logging.WARNING)
    folder = args.folder or demo_folder()
    try:
        tracks = make_music(folder / "music")
        photos = copy_photos(folder / "photos")
    except OSError as exc:  # a file, or a folder we may not write: one line, no traceback
        print(f"moodbox demo: cannot use {folder} for the demo library: "
              f"{exc.strerror or exc}; give --folder a writable folder", file=sys.stderr)
        return 1
    output = args.output or default_output()
    config = demo_config(config_from_args(args), folder, args.camera, output)
    print(f"Moodbox demo: {len(tracks)} pieces in {folder / 'music'}")
    print(f"  camera: {config.camera.source} ({len(photos)} photos)" if not args.camera
          else f"  camera: {config.camera.source}")
    print(f"  audio:  {output}" + ("  (no sound card found: playing silently)"
                                   if output == "dummy" else ""))
    print("  Enter = press the button (mood check now), h Enter = hold (pause/resume), "
          "Ctrl-C = stop\n", flush=True)
    events = EventLog(args.events)
    events.add_listener(_print_record)
    daemon = Daemon(config, events)
    _start_keyboard(daemon, config.gpio.hold_s)
    if args.seconds is not None:
        timer = threading.Timer(args.seconds, daemon.stop, args=("--seconds elapsed",))
        timer.daemon = True
        timer.start()
    return serve(daemon)


def _print_record(record: Mapping[str, Any]) -> None:
    print(f"{record['t']:8.1f} s  {describe(record)}", flush=True)


def _start_keyboard(daemon: Daemon, hold_s: float) -> None:
    """Enter presses the mock button; "h" Enter holds it; "q" Enter stops the demo."""

    def read_keys() -> None:
        for line in sys.stdin:
            pin = daemon.button.pin if daemon.button is not None else None
            key = line.strip().lower()
            if key == "q":
                daemon.stop("q pressed")
                return
            if pin is None:
                continue
            pin.drive_low()
            threading.Event().wait(hold_s + 0.3 if key == "h" else 0.1)
            pin.drive_high()

    if sys.stdin is not None:
        threading.Thread(target=read_keys, name="demo-keyboard", daemon=True).start()
