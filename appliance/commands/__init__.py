"""One module per ``moodbox`` subcommand, each with ``register(subparsers)``.

Also the two helpers every subcommand shares for ``--config PATH``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.config import DEFAULT_PATH, Config, load_config
from appliance.errors import ConfigError

#: Exit code for a bad configuration or bad command-line input (as argparse uses).
EXIT_CONFIG = 2


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH`` to a subcommand's parser."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"TOML config file (default: {DEFAULT_PATH} if it exists, else built-in defaults)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """Load the config named by ``args.config``.

    Raises:
        SystemExit: with code 2 after printing every problem on stderr, one a line.
    """
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"moodbox: {len(exc.problems)} problem(s) in the configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
