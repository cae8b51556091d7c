"""No image bytes are written anywhere (issue 11's soak target): the real ``moodbox run``, with
every place it could write (its folder, HOME, TMPDIR, XDG folders, the working directory)
under one temporary root, makes mood checks of a face photo kept outside that root; then every
file that appeared under the root is searched for JPEG and PNG signatures and checked against
the sizes of a raw frame and of a face crop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from daemonsetup import write_music

from appliance.demo import Piece

WAIT_S = 60.0
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF",
              b"BM": "BMP"}


@pytest.mark.slow
def test_a_run_with_mood_checks_writes_no_image_bytes_anywhere(
        tmp_path: Path, photo_paths: dict[str, Path]) -> None:
    photos = tmp_path / "photos"  # the camera's input, outside the watched root
    photos.mkdir()
    photo = photos / "face.png"
    photo.write_bytes(photo_paths["astronaut"].read_bytes())
    height, width = cv2.imread(str(photo)).shape[:2]
    root = tmp_path / "root"
    for sub in ("home", "tmp", "cache", "config", "data", "state", "run"):
        (root / sub).mkdir(parents=True)
    # Tracks long enough for a check of any speed (lead_s 5 s before each end).
    write_music(root, Piece("Start", 0.6, 0.5, 6.0), Piece("Happy", 0.85, 0.7, 6.0))
    music = {p.resolve() for p in (root / "music").iterdir()}
    (root / "moodbox.toml").write_text(
        '[library]\nmusic_dir = "music"\ndatabase = "library.sqlite3"\n'
        f'[camera]\nsource = "files:{photos}"\nlead_s = 5.0\nframes = 2\nwarmup_s = 0.0\n'
        'led_pin = -1\n[audio]\noutput = "dummy"\n'
        '[gpio]\npin_factory = "mock"\nbutton_pin = -1\n'
        '[daemon]\nstate_file = "run/state.json"\nevents = "events.jsonl"\n')
    env = {**os.environ, "HOME": str(root / "home"), "TMPDIR": str(root / "tmp"),
           "XDG_CACHE_HOME": str(root / "cache"), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_DATA_HOME": str(root / "data"), "XDG_STATE_HOME": str(root / "state"),
           "XDG_RUNTIME_DIR": str(root / "run")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--allow-root", "--config",
         str(root / "moodbox.toml")], cwd=root, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    events = root / "events.jsonl"
    deadline = time.monotonic() + WAIT_S
    try:
        while True:  # two mood readings: the camera ran, frames and faces went through
            assert proc.poll() is None and time.monotonic() < deadline, "no two readings"
            names = [json.loads(line)["event"] for line in events.read_text().splitlines()
                     ] if events.exists() else []
            if names.count("mood") >= 2:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    frame_sizes = {height * width * 3, height * width, 48 * 48, 48 * 48 * 3}
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.resolve() in music:
            continue
        data = path.read_bytes()
        for signature, kind in SIGNATURES.items():
            if signature in data and (kind not in ("GIF", "BMP") or data.startswith(signature)):
                found.append(f"{path.relative_to(root)}: {kind} signature")
        if len(data) in frame_sizes:
            found.append(f"{path.relative_to(root)}: {len(data)} bytes, a raw frame's size")
    assert found == []
    assert (root / "library.sqlite3").exists()  # the history was written, without images
