"""scripts/install.sh: syntax, shellcheck, the pin logic, and runs in a throwaway root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install.sh"
SYSTEM_PYTHON = Path("/usr/bin/python3")
# A throwaway-root run skips what needs root or the network: apt, the moodbox user, pip.
OFFLINE = ["--no-apt", "--no-users", "--no-pip", "--no-systemctl"]


def call(function: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs one of the script's functions (sourcing the script defines them, runs nothing)."""
    return subprocess.run(
        ["bash", "-c", f'source "$1" && shift && {function} "$@"', "test", str(SCRIPT), *args],
        capture_output=True, text=True, timeout=30,
    )


def test_syntax() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True, timeout=30)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean() -> None:
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("python", "arch", "extra"),
    [
        ("3.11", "aarch64", "tflite"),   # Raspberry Pi OS Bookworm 64-bit
        ("3.11", "x86_64", "tflite"),
        ("3.13", "aarch64", "litert"),   # Trixie 64-bit
        ("3.13", "x86_64", "litert"),
        ("3.12", "aarch64", "litert"),
    ],
)
def test_runtime_extra(python: str, arch: str, extra: str) -> None:
    done = call("runtime_extra", python, arch)
    assert (done.returncode, done.stdout) == (0, extra + "\n")
    # Each extra names the runtime in setup.cfg.
    assert f"\n{extra} =\n" in (ROOT / "setup.cfg").read_text()


@pytest.mark.parametrize(
    ("python", "arch", "words"),
    [
        ("3.13", "armv7l", ["32-bit ARM", "64-bit"]),   # Trixie 32-bit: no runtime at all
        ("3.12", "armv7l", ["32-bit ARM"]),
        ("3.11", "armv7l", ["32-bit ARM", "no OpenCV wheel", "64-bit"]),  # Bookworm 32-bit
        ("3.10", "aarch64", ["too old"]),
        ("3.13", "riscv64", ["riscv64"]),
        ("2.7", "x86_64", ["not a Python 3"]),
    ],
)
def test_runtime_extra_refuses_with_a_reason(python: str, arch: str, words: list[str]) -> None:
    done = call("runtime_extra", python, arch)
    assert done.returncode != 0 and done.stdout == ""
    for word in words:
        assert word in done.stderr


@pytest.mark.parametrize(
    ("python", "system_numpy", "lines"),
    [
        # Bookworm: apt's numpy 1.24 stays, so OpenCV must be one built for numpy 1.
        ("3.11", "1.24.2", ["numpy==1.24.2", "opencv-python-headless<4.12"]),
        # No numpy from apt (a PC): never numpy 2 under tflite-runtime.
        ("3.11", "", ["numpy<2", "opencv-python-headless<4.12"]),
        # Trixie: apt's numpy 2.2 stays.
        ("3.13", "2.2.4", ["numpy==2.2.4"]),
        ("3.13", "", []),
        # Ubuntu 24.04-like: Python 3.12 with numpy 1.26 from apt.
        ("3.12", "1.26.4", ["numpy==1.26.4", "opencv-python-headless<4.12"]),
    ],
)
def test_numpy_constraints(python: str, system_numpy: str, lines: list[str]) -> None:
    done = call("numpy_constraints", python, system_numpy)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == lines


def test_compiled_dependencies_come_as_wheels_only() -> None:
    # No silent hours-long source build of OpenCV or numpy where PyPI has no wheel.
    text = (ROOT / "scripts" / "install.sh").read_text()
    assert "--only-binary=opencv-python-headless,numpy," in text


def test_numpy_2_under_tflite_runtime_is_refused() -> None:
    done = call("numpy_constraints", "3.11", "2.1.0")
    assert done.returncode != 0
    assert "numpy 2" in done.stderr


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every path under root with its mode, size, mtime and link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns, target)
    return found


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": str(SYSTEM_PYTHON)}
    env.pop("DESTDIR", None)
    return subprocess.run(
        ["bash", str(SCRIPT), "--root", str(root), *OFFLINE, *args],
        capture_output=True, text=True, timeout=120, env=env,
    )


def system_python_can_make_venvs() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], timeout=30)
    return probe.returncode == 0


needs_root_run = pytest.mark.skipif(
    not system_python_can_make_venvs() or shutil.which("systemctl") is None,
    reason="needs /usr/bin/python3 with venv (python3-venv) and systemctl (systemd)",
)


@needs_root_run
def test_install_in_throwaway_root_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = install(root)
    assert first.returncode == 0, first.stderr
    assert "change(s)" in first.stdout
    unit = root / "etc/systemd/system/moodbox.service"
    assert unit.read_text() == (ROOT / "systemd/moodbox.service").read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/moodbox.service"
    assert os.readlink(wants) == "/etc/systemd/system/moodbox.service"
    assert (root / "etc/moodbox/moodbox.toml").read_text() == (
        ROOT / "appliance/defaults.toml"
    ).read_text()
    assert (root / "var/lib/moodbox/music").is_dir()
    assert (root / "opt/moodbox/venv/pyvenv.cfg").read_text().count(
        "include-system-site-packages = true"
    ) == 1
    assert os.readlink(root / "usr/local/bin/moodbox") == "/opt/moodbox/venv/bin/moodbox"

    before = snapshot(root)
    second = install(root)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1] == "install: nothing changed"
    assert snapshot(root) == before


@needs_root_run
def test_install_keeps_an_edited_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    config = root / "etc/moodbox/moodbox.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[audio]\ndevice = "hw:CARD=Headphones"\n')
    assert install(root).returncode == 0
    assert config.read_text() == '[audio]\ndevice = "hw:CARD=Headphones"\n'


@needs_root_run
def test_uninstall_keeps_music_and_config_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install(root).returncode == 0
    song = root / "var/lib/moodbox/music/song.ogg"
    song.write_bytes(b"OggS")
    (root / "var/lib/moodbox/library.sqlite3").write_bytes(b"")

    done = install(root, "--uninstall")
    assert done.returncode == 0, done.stderr
    for gone in ("opt/moodbox", "etc/systemd/system/moodbox.service", "usr/local/bin/moodbox",
                 "etc/systemd/system/multi-user.target.wants/moodbox.service"):
        assert not os.path.lexists(root / gone), gone
    assert song.exists() and (root / "var/lib/moodbox/library.sqlite3").exists()
    assert (root / "etc/moodbox/moodbox.toml").exists()

    done = install(root, "--uninstall", "--purge")
    assert done.returncode == 0, done.stderr
    assert not (root / "var/lib/moodbox").exists() and not (root / "etc/moodbox").exists()


def test_unknown_option_and_lone_purge_are_refused(tmp_path: Path) -> None:
    assert install(tmp_path, "--frobnicate").returncode != 0
    done = install(tmp_path, "--purge")
    assert done.returncode != 0 and "--uninstall" in done.stderr
    assert list(tmp_path.iterdir()) == []
