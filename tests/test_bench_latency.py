"""scripts/bench_latency.py: times real model files on the real runtime, against the first."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_latency  # noqa: E402

pytestmark = pytest.mark.runtime
MODEL = ROOT / "models" / "emotion.tflite"


def test_each_file_gets_a_row_with_its_ratio_to_the_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy.tflite"
    shutil.copy(MODEL, copy)
    assert bench_latency.main([str(MODEL), str(copy), "--rounds", "2", "--invokes", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "tflite" in line]
    assert [r[0] for r in rows] == ["| emotion.tflite", "| copy.tflite"]
    assert rows[0][3] == "1.00" and rows[0][5].rstrip(" |") == "1.00"
    for row in rows:
        assert all(float(row[i]) > 0 for i in (2, 4))


def test_a_broken_file_is_named_in_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(MODEL.read_bytes()[:5000])
    assert bench_latency.main([str(MODEL), str(broken), "--rounds", "1", "--invokes", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.tflite" in err
