"""``moodbox run`` as a process: SIGHUP does not end it, a second daemon is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.commands.run import lock_database


def test_the_database_lock_is_exclusive(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "library.sqlite3"
    first = lock_database(database)
    assert first is not None
    assert lock_database(database) is None
    assert f"another Moodbox daemon (pid {os.getpid()}) is using {database}" in \
        capsys.readouterr().err
    os.close(first)
    again = lock_database(database)
    assert again is not None
    os.close(again)


def _run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--allow-root", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sighup_is_ignored_and_a_second_daemon_is_refused(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    (tmp_path / "photos").mkdir()
    config = tmp_path / "moodbox.toml"
    config.write_text(
        '[library]\nmusic_dir = "music"\ndatabase = "library.sqlite3"\n'
        '[camera]\nsource = "files:photos"\n[audio]\noutput = "dummy"\n'
        '[gpio]\npin_factory = "mock"\n[daemon]\nstate_file = "state.json"\n')
    first = _run(config)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "state.json").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.stdout.read() if first.stdout else ""
            time.sleep(0.1)
        first.send_signal(signal.SIGHUP)
        second = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "run", "--allow-root", "--config",
             str(config)], capture_output=True, text=True, timeout=60, check=False)
        assert first.poll() is None  # still running after SIGHUP
        assert second.returncode == 2
        assert f"another Moodbox daemon (pid {first.pid}) is using" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    output = first.stdout.read() if first.stdout else ""
    assert "SIGHUP ignored" in output
