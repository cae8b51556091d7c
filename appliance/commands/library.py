"""``moodbox library scan|list|set|import|estimate``: the music library from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.config import Config
from appliance.errors import LibraryError, ModelError
from appliance.music.history import History
from appliance.music.learning import Learned
from appliance.music.library import Library, ScanReport, shown
from appliance.music.matching import ImportReport
from appliance.music.tags import write_tags

#: Exit code when the library or a file cannot be read or written.
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    """Add ``library`` and its five subcommands."""
    parser = subparsers.add_parser("library", help="scan, list, tag and import the music library")
    actions = parser.add_subparsers(dest="action", required=True)
    scan = actions.add_parser("scan", help="scan library.music_dir (only changed files are read)")
    listing = actions.add_parser("list", help="list the playable tracks")
    listing.add_argument("--unplayable", action="store_true",
                         help="list the unreadable or unplayable files and why instead")
    tag = actions.add_parser("set", help="set a track's valence and/or energy (0..1)")
    tag.add_argument("path", type=Path, help="the music file")
    tag.add_argument("--valence", type=_unit, help="0 = sad .. 1 = happy")
    tag.add_argument("--energy", type=_unit, help="0 = calm .. 1 = energetic")
    tag.add_argument("--write", action="store_true",
                     help="also write VALENCE/ENERGY tags into the file itself")
    imp = actions.add_parser("import", help="set valence and energy from an Exportify CSV")
    imp.add_argument("csv", type=Path, help="CSV with Track Name, Artist Name(s), Valence, Energy")
    imp.add_argument("--dry-run", action="store_true", help="report matches, change nothing")
    for action, func in ((scan, _scan), (listing, _list), (tag, _set), (imp, _import)):
        add_config_argument(action)
        action.set_defaults(func=lambda args, func=func: _run(func, args))
    guess = actions.add_parser("estimate", help="estimate valence and energy from the audio")
    guess.add_argument("files", type=Path, nargs="+", metavar="FILE", help="music files")
    guess.add_argument("--json", action="store_true", help="one JSON object per line")
    guess.add_argument("--model", type=Path, help="another valence model (.json)")
    guess.set_defaults(func=_estimate)


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def _run(func: Any, args: argparse.Namespace) -> int:
    """Open the configured library, run ``func(library, config, args)``, report failures."""
    config = config_from_args(args)
    music_dir = config.library.music_dir
    if func is _scan and not (music_dir.is_dir() and os.access(music_dir, os.R_OK | os.X_OK)):
        # Checked before the database is opened, so a failed scan leaves no empty one behind.
        print(f"moodbox: {music_dir}: music folder not found or not readable "
              "(library.music_dir)", file=sys.stderr)
        return EXIT_FAILED
    try:
        with Library(config.library.database) as library:
            return int(func(library, config, args))
    except LibraryError as exc:
        print(f"moodbox: {exc}", file=sys.stderr)
        return EXIT_FAILED


class ProgressLine(logging.Filter):
    """A progress line redrawn in place on stderr, ended before any log line is printed.

    Installed as a filter on the root logger's handlers, so a warning during the scan starts
    on a line of its own instead of being glued to the progress text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.open = False
        self._last = 0.0

    def __call__(self, done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if done == total or now - self._last >= 0.5:  # twice a second is plenty
            self._last = now
            print(f"\r  {done}/{total} files ({done / total:.0%})", end="", file=sys.stderr,
                  flush=True)
            self.open = True

    def end(self) -> None:
        """Finish the line if one is open."""
        if self.open:
            print(file=sys.stderr, flush=True)
            self.open = False

    def filter(self, record: logging.LogRecord) -> bool:
        self.end()
        return True


def _scan(library: Library, config: Config, args: argparse.Namespace) -> int:
    music_dir = config.library.music_dir
    print(f"scanning {music_dir} into {library.database}", file=sys.stderr)
    progress = ProgressLine()
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(progress)
    try:
        report = library.scan(music_dir, progress)
    finally:
        for handler in handlers:
            handler.removeFilter(progress)
        progress.end()
    _print_scan(report)
    return 0


def _print_scan(report: ScanReport) -> None:
    print(f"{report.found} audio files in {report.seconds:.1f} s: {report.added} added, "
          f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed")
    if report.unreadable:
        print(f"{len(report.unreadable)} unreadable (recorded and skipped):")
        for path, why in report.unreadable:
            print(f"  {shown(path)}: {why}")
    for problem in report.folder_problems:
        print(f"  folder: {problem}")


def _list(library: Library, config: Config, args: argparse.Namespace) -> int:
    if args.unplayable:
        rows = library.unplayable()
        for path, why in rows:
            print(f"{shown(path)}: {why}")
        print(f"{len(rows)} unplayable files", file=sys.stderr)
        return 0
    tracks = library.tracks()
    learned = _learned(config)
    print("valence energy  length   lift plays  source     artist - title  (path)")
    for t in tracks:
        valence = "-" if t.valence is None else f"{t.valence:.2f}"
        energy = "-" if t.energy is None else f"{t.energy:.2f}"
        minutes, seconds = divmod(round(t.duration_s), 60)
        effect = learned.effect(t)  # never heard: its region's lift, 0 plays
        print(f"{valence:>7} {energy:>6} {minutes:4d}:{seconds:02d}  {effect.lift:+.2f} "
              f"{effect.plays:5.1f}  {t.source or '-':<9}  {t.artist or '?'} - {t.title}  "
              f"({shown(t.path)})")
    untagged = sum(t.valence is None for t in tracks)
    estimated = sum(t.source == "estimated" for t in tracks)
    print(f"{len(tracks)} playable tracks, {untagged} without valence "
          f"(the rules take those as 0.5), {estimated} estimated from the audio", file=sys.stderr)
    return 0


def _estimate(args: argparse.Namespace) -> int:
    """Estimate each file (the library is not touched); failures on stderr, exit 1 if any."""
    from appliance.music.estimate import ValenceEstimator  # numpy features: only when asked

    try:
        estimator = ValenceEstimator(args.model)
    except ModelError as exc:
        print(f"moodbox: {exc}", file=sys.stderr)
        return EXIT_FAILED
    failed = 0
    for path in args.files:
        try:
            result = estimator.estimate(path)
        except LibraryError as exc:  # AudioError: one line with the file and the reason
            print(f"moodbox: {exc}", file=sys.stderr)
            failed += 1
            continue
        row = {"path": str(path), "valence": result.valence, "energy": result.energy,
               "source": "estimated", "model": result.model}
        print(json.dumps(row) if args.json else
              f"{shown(str(path))}: valence {result.valence:.2f}, energy {result.energy:.2f} "
              f"(estimated by {result.model})", flush=True)
    return EXIT_FAILED if failed else 0


def _learned(config: Config) -> Learned:
    """What the history taught about each track (lift of mood valence, plays behind it)."""
    with History.from_config(config) as history:
        return history.learned(config.learning)


def _set(library: Library, config: Config, args: argparse.Namespace) -> int:
    if args.valence is None and args.energy is None:
        print("moodbox: give --valence and/or --energy", file=sys.stderr)
        return 2
    track = library.set_tags(args.path, args.valence, args.energy)
    if args.write:
        write_tags(Path(track.path), valence=args.valence, energy=args.energy)
    print(f"{shown(track.path)}: valence {track.valence}, energy {track.energy}"
          + (" (written into the file too)" if args.write else ""))
    return 0


def _import(library: Library, config: Config, args: argparse.Namespace) -> int:
    report = library.import_csv(args.csv, dry_run=args.dry_run)
    _print_import(report)
    return 0


def _print_import(report: ImportReport) -> None:
    verb = "set" if report.applied else "would be set (dry run)"
    print(f"{len(report.matched)} matched: valence and energy {verb}")
    for match in report.matched:
        print(f"  {match.row.describe()} -> {shown(match.path)} "
              f"(valence {match.row.valence:.2f}, energy {match.row.energy:.2f})")
    print(f"{len(report.ambiguous)} ambiguous (several files fit; use `library set`):")
    for row, paths in report.ambiguous:
        print(f"  {row.describe()} -> {', '.join(shown(p) for p in paths)}")
    print(f"{len(report.unmatched)} unmatched (no local file with that artist and title):")
    for row in report.unmatched:
        print(f"  {row.describe()}")
    if report.invalid:
        print(f"{len(report.invalid)} invalid rows skipped:")
        for line in report.invalid:
            print(f"  {line}")
