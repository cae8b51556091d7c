"""Soak the daemon's session on the virtual clock: N songs of 3-4 minutes with faults injected.

The real ``Session`` runs with ``appliance.daemon.virtual``'s fake player and check runner over
a real library, state file and events file in a temporary folder. Faults: the camera fails on
10% of checks and hangs past its timeout on 2%; 5% of tracks are corrupt (good header), 1%
hang in VLC's input (no event ever comes) and 5% of queued files vanish (rolled once per
song); a storm of 100 presses in a second and holds in the middle of checks; the audio output
disappears and comes back; the music folder is emptied and refilled; the model is corrupt at
one start (a first start of ``songs // 20`` songs without checks, then a restart over the same
database, which also takes the history back).

``--real N`` instead plays N tracks of 3 s through the real daemon (real libvlc on a dummy
output, the ``files:`` camera over a face photo, the shipped model) and reports exit code,
errors and the longest gap between tracks.

Usage: python scripts/soak.py [--songs 1000] [--seed 1] [--real 100]
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.config import Config, parse_config
from appliance.daemon.events import ButtonHeld, ButtonPressed, LibraryScanned
from appliance.daemon.virtual import FakeCheck, Simulation, simulate
from appliance.demo import Piece, write_piece
from appliance.mood.reading import LABELS, MoodReading
from appliance.music.library import Library

#: A gap between tracks longer than this, with no fault near it, is "unexplained".
GAP_S = 0.5
FAULTS = ("skipped", "error", "check_missed", "button")


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
    label = rng.choice(LABELS)
    probabilities = {label: 0.8, "neutral": 0.2} if label != "neutral" else {"neutral": 1.0}
    return FakeCheck(1.6, MoodReading(label, 0.8, faces=1, frames=5,
                                      probabilities=probabilities))


def soak_config(root: Path) -> Config:
    return parse_config({
        "library": {"music_dir": str(root / "music"),
                    "database": str(root / "library.sqlite3"), "rescan_s": 0},
        "camera": {"source": f"files:{root}", "led_pin": -1},
        "audio": {"output": "dummy"}, "gpio": {"button_pin": -1},
        "daemon": {"state_file": str(root / "state.json"),
                   "events": str(root / "events.jsonl")}})


def scanner(sim: Simulation, folder: Path) -> None:
    """Rescans on the virtual loop scan the real folder and post the result at once."""
    def scan() -> None:
        report = sim.session.library.scan(folder)
        changed = bool(report.added or report.updated or report.removed)
        sim.loop.post(LibraryScanned(changed, f"{report.found} files"))
    sim.loop.on_rescan = scan


def broken_model_start(config: Config, songs: int, rng: random.Random) -> int:
    """A first start whose model is corrupt: the music plays, no check runs; songs started."""
    with simulate(config, lambda n: plan(rng), default_s=210.0, seed=rng.randrange(1 << 30)) as sim:
        sim.runner.fault = "mood check unavailable: emotion.tflite: not a TFLite model"
        sim.session.start()
        while len(sim.named("track_started")) < songs:
            sim.loop.run_for(30.0)
        assert sim.runner.started == [], "a check ran with a corrupt model"
        return len(sim.named("track_started"))


def run(songs: int, seed: int) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_library(root, songs, rng)
        config = soak_config(root)
        corrupt = set(rng.sample(paths, songs // 20))
        hung = set(rng.sample([p for p in paths if p not in corrupt], max(1, songs // 100)))
        start_rss, started_at = rss_mb(), time.perf_counter()
        crashes = 0
        first = broken_model_start(config, max(1, songs // 20), rng)
        with simulate(config, lambda n: plan(rng), default_s=210.0, seed=seed,
                      start=first * 400.0) as sim:
            scanner(sim, root / "music")
            for path in paths:
                sim.player.lengths[path] = rng.uniform(180, 240)
            sim.player.corrupt |= corrupt
            sim.player.hung |= hung
            faults = {"vanished": 0, "model": first, "emptied": 0, "hung": len(hung)}
            rolled: object = None  # the queued song whose dice were rolled
            storm_at, hold_at, audio_at = songs // 4, songs // 2, 3 * songs // 4
            empty_at = 3 * songs // 5
            while len(sim.named("track_started")) < songs:
                count = len(sim.named("track_started"))
                try:
                    queued = sim.session.next
                    # Once per queued song. Held, not remembered by id(): a freed song's id is
                    # reused by a later one, which then went unrolled, so the dice (and the
                    # whole run) differed from run to run.
                    if queued is not None and queued is not rolled:
                        rolled = queued
                        if rng.random() < 0.05:
                            Path(queued.choice.track.path).unlink(missing_ok=True)
                            faults["vanished"] += 1
                    if 0 <= empty_at <= count:  # songs may start in quick succession
                        empty_at = -1
                        faults["emptied"] = empty_and_refill(sim, root)
                    if 0 <= storm_at <= count:  # songs may start in quick succession
                        storm_at = -1
                        for _ in range(100):
                            sim.loop.post(ButtonPressed())
                            sim.loop.run_for(0.01)
                    if 0 <= hold_at <= count and sim.session.check is not None:
                        hold_at = -1
                        sim.loop.post(ButtonHeld())
                        sim.loop.run_for(30.0)
                        sim.loop.post(ButtonHeld())
                    if 0 <= audio_at <= count:  # songs may start in quick succession
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


def empty_and_refill(sim: Simulation, root: Path) -> int:
    """Move every file out of the music folder until the session waits for music (or 30
    virtual minutes), then back; returns the seconds it waited."""
    music, aside = root / "music", root / "aside"
    aside.mkdir(exist_ok=True)
    for path in music.iterdir():
        path.rename(aside / path.name)
    sim.loop.request_rescan()
    began = sim.clock.now
    while sim.session.report.mode != "waiting_library" and sim.clock.now - began < 1800:
        sim.loop.run_for(5.0)
    waited = sim.clock.now
    for path in aside.iterdir():
        path.rename(music / path.name)
    while sim.session.report.mode == "waiting_library" and sim.clock.now - waited < 600:
        sim.loop.run_for(5.0)
    return round(sim.clock.now - began)


def intervals(changes: list[tuple[float, str]], end: float) -> list[tuple[float, float]]:
    """The stretches during which the LED was lit ("on"), from its list of changes."""
    lit, since = [], None
    for at, state in changes:
        if state == "on" and since is None:
            since = at
        elif state != "on" and since is not None:
            lit.append((since, at))
            since = None
    return lit + ([(since, end)] if since is not None else [])


def overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in b)


def unexplained(sim: Simulation) -> tuple[int, float]:
    """Songs that started more than ``GAP_S`` after the sound before them stopped, with no
    fault (skip, error, missed check, press, lost output) within a second of the gap; and the
    longest such gap."""
    faults = [r["t"] for r in sim.records if r["event"] in FAULTS
              or (r["event"] == "ready" and r.get("state") != "playing")]
    spans = [(a - sim.start, b - sim.start) for a, b in sim.player.spans]
    count, longest = 0, 0.0
    for (_, end), (start, _) in itertools.pairwise(spans):
        gap = start - end
        near = any(end - 1 <= t <= start + 1 for t in faults)
        if gap > GAP_S and not near:
            count += 1
        if not near:
            longest = max(longest, gap)
    return count, longest


def report(sim: Simulation, crashes: int, faults: dict[str, int], start_rss: float,
           started_at: float) -> None:
    stats = sim.session.stats
    spans = [(a - sim.start, b - sim.start) for a, b in sim.player.spans]  # as events' "t"
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    ons = [r["t"] for r in sim.named("camera_on")]
    offs = [r["t"] for r in sim.named("camera_off")]
    camera = list(zip(ons, offs, strict=False))
    camera_s = sum(b - a for a, b in camera)
    lit = intervals([(t - sim.start, state) for t, state in sim.runner.led.changes],
                    sim.clock.now - sim.start)
    played_s = sum(b - a for a, b in spans)
    odd, plain = unexplained(sim)
    print(f"songs started: {len(sim.named('track_started'))} after a first start of "
          f"{faults['model']} songs with a corrupt model (no check ran); "
          f"{sim.clock.now / 3600:.1f} virtual hours, {time.perf_counter() - started_at:.0f} s "
          "real")
    print(f"crashes: {crashes}; loop errors: {len(sim.loop.errors)}")
    print(f"songs that did not follow their predecessor within {GAP_S} s with no fault to "
          f"blame: {odd}")
    print(f"checks attempted {stats.attempted}, succeeded {stats.succeeded}, failed "
          f"{stats.failed}, missed {stats.missed}, cancelled {stats.cancelled}, presses "
          f"joined {stats.joined}")
    for why, n in sorted(stats.missed_why.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  missed {n}: {why}")
    hung = sum("input hangs" in r["why"] for r in sim.named("skipped"))
    print(f"skipped: {len(sim.named('skipped'))} ({hung} of the {faults['hung']} files whose "
          "input hangs); "
          f"vanished queued files: {faults['vanished']}; "
          f"music folder emptied and refilled: {faults['emptied']} s without music")
    print(f"longest silence: {max(gaps, default=0):.2f} s; longest with no fault nearby: "
          f"{plain:.2f} s")
    print(f"camera on {camera_s:.0f} s = {100 * camera_s / max(played_s, 1):.2f}% of "
          f"{played_s / 3600:.1f} h of play; LED lit for "
          f"{100 * overlap(camera, lit) / max(camera_s, 1e-9):.1f}% of camera-on time")
    counts = sim.history.counts()
    print(f"history rows: {counts}")
    print(f"memory (peak RSS): {start_rss:.0f} MB at start, {rss_mb():.0f} MB at the end")


def real(tracks: int, seed: int) -> int:
    """Play ``tracks`` tracks of 3 s through the real daemon (libvlc on a dummy output)."""
    import shutil
    import threading

    from appliance.daemon.events import EventLog
    from appliance.daemon.loop import Daemon

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "music"
        folder.mkdir()
        for i in range(tracks):
            write_piece(folder, Piece(f"Real {i}", round(rng.random(), 2),
                                      round(rng.random(), 2), 3.0), seed=i)
        (root / "photos").mkdir()
        face = _face_photo()
        if face is not None:
            shutil.copy(face, root / "photos" / face.name)
        config = parse_config({
            "library": {"music_dir": str(folder), "database": str(root / "library.sqlite3"),
                        "rescan_s": 0},
            "camera": {"source": f"files:{root / 'photos'}", "led_pin": -1, "lead_s": 1.5,
                       "frames": 1, "warmup_s": 0.0},
            "audio": {"output": "dummy"}, "gpio": {"pin_factory": "mock", "button_pin": -1},
            "daemon": {"state_file": str(root / "state.json"),
                       "events": str(root / "events.jsonl")}})
        records: list[dict[str, object]] = []
        done = threading.Event()
        events = EventLog(config.daemon.events)

        def seen(record: Mapping[str, Any]) -> None:
            records.append(dict(record))
            if sum(r["event"] == "track_started" for r in records) > tracks:
                done.set()
        events.add_listener(seen)
        start_rss, began = rss_mb(), time.perf_counter()
        daemon = Daemon(config, events, caching_ms=100)
        codes: list[int] = []
        thread = threading.Thread(target=lambda: codes.append(daemon.run()), name="soak-daemon")
        thread.start()
        done.wait(tracks * 3.0 * 3 + 60)
        daemon.stop("soak over")
        thread.join(30)
        report_real(records, codes, tracks, start_rss, began)
    return 0


def _face_photo() -> Path | None:
    try:
        import skimage
    except ImportError:
        return None
    path = Path(skimage.__file__).parent / "data" / "astronaut.png"
    return path if path.exists() else None


def report_real(records: list[dict[str, object]], codes: list[int], tracks: int,
                start_rss: float, began: float) -> None:
    starts = [r for r in records if r["event"] == "track_started"][:tracks + 1]
    gaps = [float(b["t"]) - float(a["t"]) - float(a["length_s"])  # type: ignore[arg-type]
            for a, b in itertools.pairwise(starts)]
    names = [str(r["event"]) for r in records]
    print(f"real libvlc (dummy output): {len(starts) - 1} tracks of 3 s played to the next in "
          f"{time.perf_counter() - began:.0f} s; exit code {codes[0] if codes else 'none'}")
    print(f"errors: {names.count('error')}; skipped: {names.count('skipped')}; checks: "
          f"{names.count('mood')} readings, {names.count('check_missed')} missed")
    print(f"start of the next track after the nominal end: longest {max(gaps, default=0):.2f} "
          f"s, median {sorted(gaps)[len(gaps) // 2] if gaps else 0:.2f} s (negative: VLC ends "
          "a little early)")
    print(f"memory (peak RSS): {start_rss:.0f} MB at start, {rss_mb():.0f} MB at the end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=int, default=0, metavar="N",
                        help="instead: N tracks of 3 s through the real daemon and libvlc")
    args = parser.parse_args()
    if args.real:
        return real(args.real, args.seed)
    return run(args.songs, args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
