"""kill -9 the real daemon at random moments, and check that the database survives each time.

Each round starts ``moodbox run`` (real libvlc on a dummy output, the ``files:`` camera, the
shipped model) over one library database in a temporary folder, with tracks of 1.5 s so that
plays, mood checks and choices are written all the time. Before each start a batch of new
tracks is added and a few old ones removed, so the start-up scan writes too. Half the rounds
(at random) kill 0.3-2.5 s after the start, during the start-up, its scan and the first
writes; the others wait for the first ``track_started`` (the daemon restarted and plays) and
then a random 0-3 s of plays, checks and choices. Before the SIGKILL every committed row id
(plays, checks, choices) and track path is read. After the
kill: ``PRAGMA integrity_check`` must say ok, and every row read before the kill must still be
there. Whether the kill came during the scan (its end not yet logged) is counted.

Usage: python scripts/kill9.py [--kills 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from appliance.demo import Piece, write_piece  # noqa: E402

START_WAIT_S = 60.0
BATCH = 40


def committed(database: Path) -> dict[str, set[object]]:
    """Every committed row id of the history tables, and the track paths (one snapshot)."""
    if not database.exists():
        return {t: set() for t in ("plays", "checks", "choices", "tracks")}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        db.execute("BEGIN")
        rows: dict[str, set[object]] = {
            t: {r[0] for r in db.execute(f"SELECT id FROM {t}")}
            for t in ("plays", "checks", "choices")}
        rows["tracks"] = {r[0] for r in db.execute("SELECT path FROM tracks")}
        db.execute("COMMIT")
    return rows


def integrity(database: Path) -> str:
    if not database.exists():
        return "ok"  # killed before the file was made: nothing to lose
    with sqlite3.connect(database, timeout=10) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def setup(root: Path) -> Path:
    (root / "music").mkdir()
    (root / "photos").mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "photos" / "room.png"), noise)  # no face: "no face" checks
    config = root / "moodbox.toml"
    config.write_text(
        '[library]\nmusic_dir = "music"\ndatabase = "library.sqlite3"\nrescan_s = 2\n'
        '[camera]\nsource = "files:photos"\nlead_s = 1.0\nframes = 1\nwarmup_s = 0.0\n'
        'led_pin = -1\n[audio]\noutput = "dummy"\nfade_s = 0.1\n'
        '[gpio]\npin_factory = "mock"\nbutton_pin = -1\n'
        '[daemon]\nstate_file = "state.json"\nevents = "events.jsonl"\n')
    return config


def add_tracks(root: Path, round_no: int, rng: random.Random) -> set[str]:
    """A batch of new tracks; a few old ones removed. Returns the removed paths."""
    music = root / "music"
    for i in range(BATCH):
        piece = Piece(f"R{round_no} T{i}", round(rng.random(), 2), round(rng.random(), 2), 1.5)
        write_piece(music, piece, seed=round_no * 100 + i)
    old = sorted(str(p) for p in music.iterdir())
    gone = set(rng.sample(old, min(3, len(old) // 10)))
    for path in gone:
        Path(path).unlink()
    return gone


def started(events: Path, offset: int) -> bool:
    if not events.exists():
        return False
    with events.open("rb") as handle:
        handle.seek(offset)
        return any(b'"track_started"' in line for line in handle)


def one_round(root: Path, config: Path, round_no: int, rng: random.Random,
              last: bool = False) -> dict[str, object]:
    database, events, log = root / "library.sqlite3", root / "events.jsonl", root / "log.txt"
    add_tracks(root, round_no, rng)
    offset = events.stat().st_size if events.exists() else 0
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "run", "--allow-root", "--config",
             str(config)], cwd=root, stdout=subprocess.DEVNULL, stderr=out)
        deadline = time.monotonic() + START_WAIT_S
        early = rng.random() < 0.5 and not last
        if early:
            time.sleep(rng.uniform(0.3, 2.5))
        while not early and not started(events, offset):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return {"played": False, "log": log.read_text(errors="replace")[-2000:]}
            time.sleep(0.02)
        if not early:
            time.sleep(rng.uniform(0.0, 3.0))
        before = committed(database)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    scanned = " in " in "".join(line for line in log.read_text(errors="replace").splitlines()
                                if "appliance.music.library: scan" in line)
    check = integrity(database)
    after = committed(database)
    lost = {t: len(before[t] - after[t]) for t in before}
    return {"played": started(events, offset), "early": early, "integrity": check, "lost": lost,
            "during_scan": not scanned, "rows": {t: len(after[t]) for t in after}}


def run(kills: int, seed: int) -> int:
    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = setup(root)
        for n in range(kills):
            result = one_round(root, config, n, rng)
            results.append(result)
            print(json.dumps({"kill": n + 1, **result}), flush=True)
            if not (result["played"] or result.get("early")):
                break
        final = one_round(root, config, kills, rng, last=True)  # recovers from the last kill
    # A round that was not killed early must have played; an early one is shown to recover by
    # the next round (or the final one) playing.
    ok = [r for r in results if (r["played"] or r.get("early")) and r["integrity"] == "ok"
          and not any(dict(r["lost"]).values())]  # type: ignore[call-overload]
    print(f"kills: {len(results)}; recovered (restarted and played, integrity ok, no committed "
          f"row lost): {len(ok)} of {kills}; after the last kill it played again: "
          f"{final['played']}")
    print(f"kills early in the start: {sum(bool(r.get('early')) for r in results)}; during the "
          f"start-up scan: {sum(bool(r.get('during_scan')) for r in results)}; "
          f"rows at the end: {results[-1].get('rows') if results else {}}")
    return 0 if len(ok) == kills and final["played"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return run(args.kills, args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
