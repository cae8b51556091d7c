"""The ``moodbox`` command: a thin dispatcher over one module per subcommand.

Only the module of the subcommand given is imported, so ``moodbox status`` starts without
OpenCV, numpy or the TFLite runtime.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from appliance import __version__

# Each module defines ``register(subparsers)``, which adds its parser(s) and sets ``func``
# (a callable taking the parsed arguments and returning an exit code). The help line here is
# what ``moodbox --help`` shows without importing the module.
COMMANDS: dict[str, str] = {
    "config": "check the settings file and print the settings in effect",
    "library": "scan your music folder, list, tag and import valence and energy",
    "check": "read the mood in photos, or run one mood check with the camera",
    "doctor": "check that the box is set up right, one line per part, with the fix",
    "run": "run the appliance (the service does this; stop it first)",
    "demo": "try Moodbox on this computer: generated music, sample photos, no Pi needed",
    "status": "show what the running box plays, its last mood check and the next one",
    "history": "list the stored plays and mood checks, or erase them for good",
    "report": "draw the mood history and the songs that help on one PNG page",
}
#: Subcommands whose INFO lines are the point (the service's journal): shown without -v.
_INFO_BY_DEFAULT = frozenset({"run"})

DESCRIPTION = """\
Moodbox plays your own music and picks the next song by the listener's mood, read by the
camera near the end of each song. Start with `moodbox demo` to try it on any computer,
`moodbox doctor` on the box, and `moodbox COMMAND --help` for each command."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the subcommand named in ``argv`` is imported.

    Args:
        argv: the arguments to be parsed; ``None`` registers every subcommand fully.
    """
    parser = argparse.ArgumentParser(prog="moodbox", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"moodbox {__version__}")
    _add_verbose(parser, argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = None if argv is None else _command_in(argv)
    for name, summary in COMMANDS.items():
        if argv is None or name == wanted:
            importlib.import_module(f"appliance.commands.{name}").register(subparsers)
        else:  # a placeholder that only lends its help line to `moodbox --help`
            subparsers.add_parser(name, help=summary)
    for sub in _subparsers(parser):
        _add_verbose(sub, argparse.SUPPRESS)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first argument that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _add_verbose(parser: argparse.ArgumentParser, default: object) -> None:
    """``-v`` on ``parser``; SUPPRESS keeps a later parser from resetting an earlier -v."""
    parser.add_argument("-v", "--verbose", action="count", default=default,
                        help="show what it does (INFO lines); -vv for every detail (DEBUG)")


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser`` (subcommands and their own subcommands)."""
    found = []
    for action in parser._actions:  # argparse offers no public way to walk subcommands
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += [sub, *_subparsers(sub)]
    return found


def configure_logging(verbose: int, command: str) -> None:
    """Plain lines on stderr: WARNING and up, INFO too for ``run`` or with -v, DEBUG at -vv.

    Without -v, Python warnings (gpiozero's pin-factory fallbacks) are hidden too.
    """
    level = logging.WARNING
    if verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1 or command in _INFO_BY_DEFAULT:
        level = logging.INFO
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(level)  # also when handlers exist already (tests)
    if not verbose:
        warnings.filterwarnings("ignore", module="gpiozero")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    args.verbose = getattr(args, "verbose", 0)
    configure_logging(args.verbose, args.command)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
