"""``moodbox doctor``: check the box's software, devices, music and service, a line each."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.commands import add_config_argument, config_from_args
from appliance.doctor.checks import FAIL, SKIP, all_checks, run_checks


def register(subparsers: Any) -> None:
    """Add the ``doctor`` subcommand."""
    parser = subparsers.add_parser(
        "doctor",
        help="check Python, the model, camera, pins, audio, music, database and service",
        description="Run every check once and print one line each: OK, SKIP (does not apply "
        "here) or FAIL with the fix. Exit 0 only when none fails. It opens the camera, the "
        "pins and the audio output itself, so stop the service first on a running box.",
    )
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each check's line as it finishes; exit 0 when all pass, else 1."""
    config = config_from_args(args)
    results = []
    for result in run_checks(config, all_checks()):
        print(result.line(), flush=True)
        results.append(result)
    failed = [r.name for r in results if r.status == FAIL]
    skipped = sum(r.status == SKIP for r in results)
    if failed:
        print(f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}")
        return 1
    note = f", {skipped} skipped" if skipped else ""
    print(f"all {len(results) - skipped} checks passed{note}")
    return 0
