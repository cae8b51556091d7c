"""Soak the daemon's session on the virtual clock: N songs of 3-4 minutes with faults injected.

The real ``Session`` runs with ``appliance.daemon.virtual``'s fake player and check runner over
a real library, state file and events file in a temporary folder. Faults: the camera fails on
10% of checks and hangs past its timeout on 2%; 5% of tracks are corrupt (good header) and 5%
of chosen files vanish; a storm of 100 presses in a second and holds in the middle of checks;
the audio output disappears and comes back; the music folder is emptied and refilled.

Usage: python scripts/soak.py [--songs 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from appliance.config import parse_config
from appliance.daemon.events import ButtonHeld, ButtonPressed
from appliance.daemon.virtual import FakeCheck, Simulation, simulate
from appliance.demo import Piece, write_piece
from appliance.mood.reading import LABELS, MoodReading
from appliance.music.library import Library


def rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_library(root: Path, count: int, rng: random.Random) -> list[str]:
    folder = root / "music"
    folder.mkdir()
    paths = []
    for i in range(count):
        piece = Piece(f"Song {i}", round(rng.random(), 2), round(rng.random(), 2), 0.01)
        paths.append(str(write_piece(folder, piece)))
    with Library(root / "library.sqlite3") as library:
        library.scan(folder)
    return paths


def plan(rng: random.Random) -> FakeCheck:
    roll = rng.random()
    if roll < 0.10:
        return FakeCheck(0.3, None, "fake camera: open failed", "camera", opens=False)
    if roll < 0.12:
        return FakeCheck(40.0, None, "fake camera: no frame", "camera")  # hangs past timeout
    return FakeCheck(1.6, MoodReading(rng.choice(LABELS), 0.8, faces=1, frames=5))


def run(songs: int, seed: int) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_library(root, songs, rng)
        config = parse_config({
            "library": {"music_dir": str(root / "music"),
                        "database": str(root / "library.sqlite3"), "rescan_s": 0},
            "camera": {"source": f"files:{root}", "led_pin": -1},
            "audio": {"output": "dummy"}, "gpio": {"button_pin": -1},
            "daemon": {"state_file": str(root / "state.json"),
                       "events": str(root / "events.jsonl")}})
        corrupt = set(rng.sample(paths, songs // 20))
        start_rss, started_at = rss_mb(), time.perf_counter()
        crashes = 0
        with simulate(config, lambda n: plan(rng), default_s=210.0) as sim:
            for path in paths:
                sim.player.lengths[path] = rng.uniform(180, 240)
            sim.player.corrupt |= corrupt
            faults = {"vanished": 0}
            storm_at, hold_at, audio_at = songs // 4, songs // 2, 3 * songs // 4
            while len(sim.named("track_started")) < songs:
                count = len(sim.named("track_started"))
                try:
                    queued = sim.session.next
                    if queued is not None and rng.random() < 0.05:
                        Path(queued[0].track.path).unlink(missing_ok=True)
                        faults["vanished"] += 1
                    if count == storm_at:
                        storm_at = -1
                        for _ in range(100):
                            sim.loop.post(ButtonPressed())
                            sim.loop.run_for(0.01)
                    if count == hold_at and sim.session.check is not None:
                        hold_at = -1
                        sim.loop.post(ButtonHeld())
                        sim.loop.run_for(30.0)
                        sim.loop.post(ButtonHeld())
                    if count == audio_at:
                        audio_at = -1
                        sim.player.lose_output("stall")
                        sim.loop.run_for(20.0)
                        sim.player.restore_output()
                    sim.loop.run_for(5.0)
                except Exception as exc:  # a crash of the session: count it and go on
                    crashes += 1
                    print(f"crash: {exc!r}", file=sys.stderr)
                if sim.clock.now > songs * 400:
                    print("stuck: no progress", file=sys.stderr)
                    break
            report(sim, crashes, faults, start_rss, started_at)
    return 0


def report(sim: Simulation, crashes: int, faults: dict[str, int], start_rss: float,
           started_at: float) -> None:
    stats = sim.session.stats
    spans = sim.player.spans
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    faulted = {r["t"] for r in sim.records if r["event"] in ("skipped", "error")}
    plain = [g for (a, b), g in zip(itertools.pairwise(spans), gaps, strict=False)
             if not any(a[1] - 1 <= t <= b[0] + 1 for t in faulted)]
    ons = [r["t"] for r in sim.named("camera_on")]
    offs = [r["t"] for r in sim.named("camera_off")]
    camera_s = sum(b - a for a, b in zip(ons, offs, strict=False))
    played_s = sum(b - a for a, b in spans)
    print(f"songs started: {len(sim.named('track_started'))} in {sim.clock.now / 3600:.1f} "
          f"virtual hours, {time.perf_counter() - started_at:.0f} s real")
    print(f"crashes: {crashes}; loop errors: {len(sim.loop.errors)}")
    print(f"checks attempted {stats.attempted}, succeeded {stats.succeeded}, failed "
          f"{stats.failed}, missed {stats.missed}, cancelled {stats.cancelled}, presses "
          f"joined {stats.joined}")
    for why, n in sorted(stats.missed_why.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  missed {n}: {why}")
    print(f"skipped: {len(sim.named('skipped'))}; vanished queued files: {faults['vanished']}")
    print(f"longest silence: {max(gaps, default=0):.2f} s; longest with no fault nearby: "
          f"{max(plain, default=0):.2f} s")
    print(f"camera on {camera_s:.0f} s = {100 * camera_s / max(played_s, 1):.2f}% of "
          f"{played_s / 3600:.1f} h of play")
    print(f"memory (peak RSS): {start_rss:.0f} MB at start, {rss_mb():.0f} MB at the end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return run(args.songs, args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
