"""Time and memory of a room-scale mood check on full-view frames, as the config sets it up.

    .venv/bin/python scripts/measure_room_check.py [--repeats 15] [--size 2304x1296] \
        [--set mood.min_second_look_score=1 ...]

Five frames of the given size (default Camera Module 3's binned full view) hold the
public-domain astronaut portrait with her face about 114 px wide (a listener 2.5 m away) and
two other people's faces at the edges. The process runs on one CPU with one interpreter
thread. Reported medians over ``--repeats`` runs:

* one frame: detect, choose the listener, crop and classify;
* the compute of a 5-frame check (``MoodChecker.check`` on a fake camera and clock, so no
  sleeping and no camera time is counted);
* the peak resident memory of one such check above the idle process (models loaded, the
  frames queued in the fake camera), from ``VmHWM`` after resetting it via ``clear_refs``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from appliance.config import parse_config  # noqa: E402
from appliance.hw.fake import FakeCamera, FakeClock  # noqa: E402
from appliance.hw.sources import parse_size  # noqa: E402
from appliance.mood.check import FaceReader, MoodChecker, read_listener  # noqa: E402
from appliance.mood.listener import Gates  # noqa: E402
from appliance.mood.runtime import runtime_name  # noqa: E402


def frames(size: tuple[int, int]) -> list[np.ndarray]:
    """Five full-view frames: the listener mid-room at 2.5 m, two others at the edges."""
    import cv2
    import matplotlib.cbook
    import skimage
    from test_mood_listener import paste  # the tests' paster: real photos, no FER2013

    data = Path(skimage.__file__).parent / "data"
    astronaut = cv2.imread(str(data / "astronaut.png"))
    camera = cv2.imread(str(data / "camera.png"))
    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg",
                                                            asfileobj=False)))
    scale = size[0] / 2304
    out = []
    for k in range(5):
        frame = np.full((size[1], size[0], 3), 110, np.uint8)
        paste(frame, camera, "camera", 95 * scale, (int(300 * scale), int(500 * scale)))
        paste(frame, grace, "grace_hopper", 90 * scale, (int(2000 * scale), int(700 * scale)))
        paste(frame, astronaut, "astronaut", 114 * scale,
              (int((1152 + 5 * k) * scale), int(600 * scale)))
        out.append(frame)
    return out


def overrides(settings: list[str]) -> dict:
    """``SECTION.KEY=VALUE`` settings (VALUE in TOML) as a config mapping."""
    out: dict = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        section, _, key = name.partition(".")
        out.setdefault(section, {})[key] = tomllib.loads(f"v = {value}")["v"]
    return out


def vm(field: str) -> float:
    """A ``/proc/self/status`` memory field in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--size", default="2304x1296")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a config setting other than the default (TOML value)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    size = parse_size(args.size) or (2304, 1296)
    config = parse_config(overrides(args.set))
    reader = FaceReader.from_config(config)
    mood = config.mood
    gates = Gates(mood.min_face_px, mood.min_sharpness, mood.max_turn)
    burst = frames(size)
    per_frame = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        seen = read_listener(reader, burst[:1], gates)
        per_frame.append((time.perf_counter() - start) * 1000)
    camera = FakeCamera()
    checker = MoodChecker(camera, reader, frames=5, burst_s=2.0, clock=FakeClock(),
                          circumplex=mood.circumplex)
    checks, peaks = [], []
    for _ in range(args.repeats):
        for frame in burst:
            camera.queue_frame(frame)
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        idle = vm("VmRSS")
        start = time.perf_counter()
        reading = checker.check()
        checks.append((time.perf_counter() - start) * 1000)
        peaks.append(vm("VmHWM") - idle)
    print(f"{size[0]}x{size[1]} frames, detector {mood.detector} tiles {mood.detect_tiles}, "
          f"{runtime_name()}, one CPU, {args.repeats} repeats, settings {args.set or 'default'}")
    print(f"listener found in frame 1: {seen.listener is not None}, people {seen.people}")
    print(f"one frame detect+choose+classify: median {statistics.median(per_frame):.1f} ms "
          f"(min {min(per_frame):.1f})")
    print(f"5-frame check compute: median {statistics.median(checks):.1f} ms "
          f"(min {min(checks):.1f}); reading {reading.emotion} {reading.confidence:.2f}, "
          f"{reading.faces} people, used {reading.used}")
    print(f"peak memory of a check above idle: median {statistics.median(peaks):.1f} MiB "
          f"(max {max(peaks):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
