"""A small kill -9 round (3 kills) of scripts/kill9.py: after each, the database is whole, no
committed row is lost, and the daemon restarts and plays (the full run does 50)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_three_kills_lose_nothing_and_the_daemon_plays_again() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "kill9.py"), "--kills", "3",
                           "--seed", "2"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 3" in done.stdout and "played again: True" in done.stdout
