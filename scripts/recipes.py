"""Recipe files: a line per training run, ``NAME|train.py arguments``; blank lines and lines
starting with # are skipped. ``bench_arch.py`` builds each recipe's network and
``gpu_sweep.sh`` trains each; both read a file through ``read``, so they agree on the format.

    python scripts/recipes.py RECIPES    # checks every line; prints NAME<TAB>ARGUMENTS a run

NAME becomes a folder and a log's name, so it is letters, digits, ``.``, ``_`` and ``-``,
and unique in its file. Every line is checked before any is used: a sweep that would fail
on its fifth recipe fails before its first starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_args

NAME = re.compile(r"[A-Za-z0-9._-]+")


class Recipe(NamedTuple):
    """One run: its name, its train.py arguments and what they parse to."""

    name: str
    arguments: list[str]
    settings: argparse.Namespace


def read(path: Path) -> list[Recipe]:
    """Every recipe in ``path``.

    Raises:
        ValueError: a line is not ``NAME|train.py arguments``, or its name is not a plain
            or unique one; the message names the file, the line and what is wrong.
    """
    found: list[Recipe] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found.append(_parse(line, f"{path}:{number}", {r.name for r in found}))
    return found


def _parse(line: str, where: str, taken: set[str]) -> Recipe:
    name, sep, extra = (part.strip() for part in line.partition("|"))
    if not sep or not name:
        raise ValueError(f"{where}: want NAME|train.py arguments, got {line!r}")
    if not NAME.fullmatch(name):
        raise ValueError(f"{where}: name {name!r}: use letters, digits, '.', '_' and '-' only")
    if name in taken:
        raise ValueError(f"{where}: name {name!r} is used by an earlier line; give each run "
                         "its own name")
    arguments = extra.split()
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error):
            settings = train_args.parse_args(["--data", "unused", *arguments])
    except SystemExit:
        why = error.getvalue().strip().splitlines()[-1:] or ["not train.py arguments"]
        raise ValueError(f"{where}: {name}: {why[0]}") from None
    return Recipe(name, arguments, settings)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        recipes = read(Path(argv[0]))
    except (OSError, ValueError) as error:
        print(f"recipes: {error}", file=sys.stderr)
        return 1
    for recipe in recipes:
        print(f"{recipe.name}\t{' '.join(recipe.arguments)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
