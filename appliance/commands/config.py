"""``moodbox config``: print the effective configuration as TOML."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.config import dump_config


def register(subparsers: Any) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser(
        "config",
        help="print the effective configuration (defaults plus the config file) as TOML",
        description="Check the configuration and print the effective result as TOML; "
        "exit 2 with every problem listed if it is invalid.",
    )
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the effective config; exit code 0, or 2 (via SystemExit) when it is invalid."""
    print(dump_config(config_from_args(args)), end="")
    return 0
