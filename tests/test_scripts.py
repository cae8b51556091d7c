"""scripts/test.sh runs every environment and labels each result, on stand-in tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_every_environment_runs_and_a_failure_fails_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    _tool(tmp_path / "scripts" / "setup.sh", 'echo "setup $*" >> ran.txt')
    _tool(tmp_path / ".venv" / "bin" / "ruff", "echo 'All checks passed!'")
    _tool(tmp_path / ".venv" / "bin" / "mypy", "echo 'Success: no issues'")
    _tool(tmp_path / ".venv" / "bin" / "python", "echo '300 passed in 9.0s'")
    # The second environment fails; the third must still run.
    _tool(tmp_path / ".venv-bookworm" / "bin" / "python", "echo '2 failed, 50 passed'; exit 1")
    _tool(tmp_path / ".venv-train" / "bin" / "python", "echo 'train ran' >> ran.txt; "
          "echo '1 passed in 60s'")
    _tool(tmp_path / "scripts" / "test_arm64.sh", "echo 'arm64: 2 suites passed'")
    result = subprocess.run(["bash", "scripts/test.sh"], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env=_without_skip())
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.split("=== summary", 1)[1]
    assert "ok    [.venv] .venv/bin/python -m pytest -q: 300 passed in 9.0s" in summary
    assert ("FAIL  [.venv-bookworm] .venv-bookworm/bin/python -m pytest -q -m runtime "
            "(exit 1): 2 failed, 50 passed") in summary
    assert "ok    [.venv-train] .venv-train/bin/python -m pytest -q -m training: 1 passed" \
        in summary
    assert "ok    [arm64] bash scripts/test_arm64.sh: arm64: 2 suites passed" in summary
    assert "train ran" in (tmp_path / "ran.txt").read_text()


def _passing(tmp_path: Path, arm64: str) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    _tool(tmp_path / "scripts" / "setup.sh", "true")
    _tool(tmp_path / "scripts" / "test_arm64.sh", arm64)
    for venv in (".venv", ".venv-bookworm", ".venv-train"):
        _tool(tmp_path / venv / "bin" / "python", "echo '1 passed'")
    for name in ("ruff", "mypy"):
        _tool(tmp_path / ".venv" / "bin" / name, "true")


def _without_skip(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MOODBOX_SKIP_ARM64"}
    return {**env, **extra}


def test_all_passing_exits_zero(tmp_path: Path) -> None:
    _passing(tmp_path, "echo 'arm64 ran' > arm64.txt")
    result = subprocess.run(["bash", "scripts/test.sh"], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env=_without_skip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all steps passed")
    assert (tmp_path / "arm64.txt").exists()


def test_a_failed_arm64_stage_fails_the_run(tmp_path: Path) -> None:
    _passing(tmp_path, "echo 'arm64: run it as root (chroot and mounts)'; exit 2")
    result = subprocess.run(["bash", "scripts/test.sh"], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env=_without_skip())
    assert result.returncode == 1
    assert "FAIL  [arm64] bash scripts/test_arm64.sh (exit 2): arm64: run it as root" \
        in result.stdout


def test_the_arm64_stage_is_left_out_only_aloud(tmp_path: Path) -> None:
    _passing(tmp_path, "echo 'arm64 ran' > arm64.txt; exit 1")
    result = subprocess.run(["bash", "scripts/test.sh"], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env=_without_skip(MOODBOX_SKIP_ARM64="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip  [arm64] left out: MOODBOX_SKIP_ARM64=1" in result.stdout
    assert result.stdout.rstrip().endswith("all steps passed (arm64 left out)")
    assert not (tmp_path / "arm64.txt").exists()
