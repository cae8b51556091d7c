"""A short run of scripts/soak.py (60 songs on the virtual clock, every fault injected): no
crash, no unexplained gap, the LED lit for all of the camera's time (the full run does 1,000)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_short_soak_has_no_crash_and_no_unexplained_gap() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "soak.py"), "--songs", "60"],
                          capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-2000:]
    assert "crashes: 0; loop errors: 0" in out
    assert "with no fault to blame: 0" in out
    assert "LED lit for 100.0% of camera-on time" in out
    assert "songs started: 60 after a first start of 3 songs" in out
