"""scripts/gpu_sweep.sh end to end, on this machine's CPU with Keras on TensorFlow: the
recipes are checked before anything starts, the runs train side by side within the budget,
and each run's model and logs come back packed, as they would from a lent GPU machine."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from fakefaces import write_npz

pytestmark = pytest.mark.training
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import sweep_io  # noqa: E402


def packed_faces(folder: Path) -> Path:
    """Synthetic faces packed as gpu_sweep.sh expects them."""
    write_npz(folder / "fer.npz", {"Training": 448, "PublicTest": 70})
    sweep_io.pack(folder / "fer.npz", folder / "packed")
    return folder / "packed"


def sweep(tmp_path: Path, recipes: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "recipes.txt").write_text(recipes)
    env = {**os.environ, "PY": sys.executable, "PACKED": str(packed_faces(tmp_path)),
           "WORK": str(tmp_path / "work"), "OUT": str(tmp_path / "out"), "WHEELS": "",
           "BACKENDS": "tensorflow", "BUDGET": "120", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(["bash", "scripts/gpu_sweep.sh", str(tmp_path / "recipes.txt")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
                          check=False)


def test_every_recipe_trains_and_comes_back_packed(tmp_path: Path) -> None:
    done = sweep(tmp_path, "# two small networks\nsmall|--epochs 2 --widths 4,4,4,4 "
                           "--dense 8 --batch 32\n\nres|--epochs 2 --arch residual "
                           "--widths 4,8 --dense 8 --batch 32 --seed 3\n")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "trains on tensorflow" in done.stdout
    for name in ("small", "res"):
        assert f"{name}: 2 epochs" in done.stdout, done.stdout[-2000:]
    with tarfile.open(tmp_path / "out" / "runs0.tar") as tar:
        names = set(tar.getnames())
    for name in ("small", "res"):
        assert {f"{name}/slim.keras", f"{name}/history.csv", f"{name}/runs.jsonl",
                f"{name}/{name}.log"} <= names


def test_a_wrong_recipe_stops_the_sweep_before_any_run_starts(tmp_path: Path) -> None:
    done = sweep(tmp_path, "fine|--epochs 1\nodd|--arch round\n")
    assert done.returncode != 0
    assert "recipes.txt:2: odd: train.py: error: argument --arch" in done.stderr
    assert not (tmp_path / "work" / "fine").exists() and not list((tmp_path / "out").glob("*.tar"))
