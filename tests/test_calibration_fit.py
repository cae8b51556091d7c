"""scripts/measure_calibration.py: the temperature fit, and the script on the shipped model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakefaces import write_npz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ferdata  # noqa: E402
import measure_calibration  # noqa: E402


@pytest.mark.parametrize("true_t", [0.6, 1.0, 2.5])
def test_fit_recovers_the_temperature_the_labels_were_drawn_at(true_t: float) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (4000, 7))
    z = np.exp(logits / true_t)
    p = z / z.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(7, p=row) for row in p])
    assert measure_calibration.fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_script_fits_on_the_validation_split_by_default(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "fer.npz", {"Training": 140, "PublicTest": 14})
    done = subprocess.run([sys.executable, "scripts/measure_calibration.py", "--fer", str(data)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    held_out = len(ferdata.load_selection(data).val.labels)  # part of Training, not PublicTest
    assert done.stdout.startswith(f"{held_out} Validation faces, emotion.tflite"), done.stdout
    assert "fitted temperature T = " in done.stdout and "| 0.50 |" in done.stdout
    assert "nan" not in done.stdout and not done.stderr
