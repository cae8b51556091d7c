"""scripts/measure_calibration.py: the temperature fit, and the script on the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakefaces import write_npz
from modelcopy import model_copy, shipped_contract

from appliance.mood.classifier import read_contract

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


def test_write_puts_the_fitted_temperature_into_that_models_contract(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "fer.npz", {"Training": 140, "PublicTest": 14})
    contract = shipped_contract()
    del contract["temperature"], contract["temperature_note"]  # as a new export has it
    model_copy(tmp_path, contract)
    done = subprocess.run([sys.executable, "scripts/measure_calibration.py", "--fer", str(data),
                           "--model", str(tmp_path / "emotion.tflite"), "--write"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    fitted = float(done.stdout.split("fitted temperature T = ")[1].split()[0])
    written = json.loads((tmp_path / "emotion.json").read_text())
    assert written["temperature"] == pytest.approx(fitted, abs=1e-3)
    assert "Validation faces" in written["temperature_note"]
    assert list(written)[list(written).index("output") + 1] == "temperature"
    assert read_contract(tmp_path / "emotion.json").temperature == written["temperature"]
