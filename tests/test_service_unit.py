"""The systemd unit: systemd-analyze verify (warnings are failures) and its security exposure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "moodbox.service"
# The issue asks for <= 2.0; the unit measured 0.7 when written. A change that loosens it
# past 1.0 should be a decision, not an accident.
EXPOSURE_BOUND = 1.0

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (scripts/setup.sh installs the systemd package)",
)


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, in order (keys may repeat)."""
    entries, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key: str) -> list[str]:
    return [v for _, k, v in unit_entries(UNIT.read_text()) if k == key]


def copy_for_verify(tmp_path: Path, extra: str = "") -> Path:
    """The unit with ExecStart pointing at an executable that exists here.

    verify checks that ExecStart's binary exists and fails (rc 1) on
    /opt/moodbox/venv/bin/moodbox, which only install.sh creates. Everything else is kept.
    """
    text = UNIT.read_text()
    assert "ExecStart=/opt/moodbox/venv/bin/moodbox run\n" in text
    text = text.replace("ExecStart=/opt/moodbox/venv/bin/moodbox", f"ExecStart={sys.executable}")
    copy = tmp_path / "moodbox.service"
    copy.write_text(text + extra)
    return copy


def verify_problems(unit: Path) -> list[str]:
    """Everything systemd-analyze verify says about the unit: it exits 0 on a misspelled key
    and only warns on stderr, so every stderr line counts as a problem."""
    done = subprocess.run(
        ["systemd-analyze", "verify", unit.name],
        cwd=unit.parent, capture_output=True, text=True, timeout=60,
    )
    problems = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 0:
        problems.append(f"systemd-analyze verify exited {done.returncode}")
    return problems


def test_unit_verifies_without_warnings(tmp_path: Path) -> None:
    assert verify_problems(copy_for_verify(tmp_path)) == []


def test_verify_check_catches_a_misspelled_key(tmp_path: Path) -> None:
    problems = verify_problems(copy_for_verify(tmp_path, "\n[Service]\nRestartSecs=5\n"))
    assert any("RestartSecs" in line for line in problems)


def test_security_exposure_is_within_bound(tmp_path: Path) -> None:
    unit = copy_for_verify(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", unit.name],
        cwd=unit.parent, capture_output=True, text=True, timeout=60,
    )
    match = re.search(r"Overall exposure level for moodbox\.service: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    exposure = float(match.group(1))
    print(f"systemd-analyze security exposure: {exposure} (bound {EXPOSURE_BOUND})")
    assert exposure <= EXPOSURE_BOUND


def test_service_contract() -> None:
    # What the daemon and the installer rely on; each line is a reason the unit exists.
    assert values("Type") == ["notify"]
    assert values("NotifyAccess") == ["main"]
    assert float(values("WatchdogSec")[0]) >= 10
    assert values("Restart") == ["on-failure"]
    assert values("RestartPreventExitStatus") == ["2"]  # moodbox run's bad-config exit code
    assert values("StartLimitBurst") and values("StartLimitIntervalSec")
    assert values("User") == ["moodbox"]
    assert values("StateDirectory") == ["moodbox"]
    assert values("ConfigurationDirectory") == ["moodbox"]
    assert set(values("SupplementaryGroups")[0].split()) == {"video", "audio", "gpio"}
    assert "sound.target" not in " ".join(values("After") + values("Wants"))  # grants nothing
    assert values("WantedBy") == ["multi-user.target"]


def test_devices_closed_except_camera_gpio_and_sound() -> None:
    assert values("DevicePolicy") == ["closed"]
    allowed = {v.split()[0] for v in values("DeviceAllow")}
    assert allowed == {
        "char-video4linux", "char-media", "char-dma_heap", "char-gpiochip", "char-alsa",
    }


#: Device classes that Raspberry Pi kernels register from a module, and that module's name.
MODULE_OF_CLASS = {"char-alsa": "snd", "char-media": "mc", "char-video4linux": "videodev"}


def test_classes_from_modules_are_loaded_before_the_start() -> None:
    # DevicePolicy=closed resolves char-CLASS from /proc/devices at start: a class whose
    # module loads later is silently left out, so the unit loads each module first.
    wants = " ".join(values("Wants")).split()
    after = " ".join(values("After")).split()
    for entry in values("DeviceAllow"):
        module = MODULE_OF_CLASS.get(entry.split()[0])
        if module is not None:
            assert f"modprobe@{module}.service" in wants, entry
            assert f"modprobe@{module}.service" in after, entry


def test_state_folder_is_writable_under_protect_system_strict() -> None:
    # ProtectSystem=strict makes / read-only; the music, database and state file live in
    # StateDirectory (writable), and the shipped defaults put them all there.
    assert values("ProtectSystem") == ["strict"]
    defaults = (UNIT.parents[1] / "appliance" / "defaults.toml").read_text()
    for key in ("music_dir", "database", "state_file"):
        found = re.search(rf'^{key} = "([^"]*)"', defaults, re.MULTILINE)
        assert found and found.group(1).startswith("/var/lib/moodbox/"), key
    assert not values("ReadOnlyPaths") and not values("InaccessiblePaths")


def test_exec_start_is_a_moodbox_command() -> None:
    from appliance.cli import build_parser

    program, *args = values("ExecStart")[0].split()
    assert program == "/opt/moodbox/venv/bin/moodbox"  # where install.sh puts the venv
    assert build_parser().parse_args(args).command == "run"
