"""Milliseconds per invoke of .tflite models on one thread, in this process's TFLite runtime,
on the runtime's built-in kernels and with its default XNNPACK delegate (as the appliance's
classifier runs a face).

    .venv-bookworm/bin/python scripts/bench_latency.py models/emotion.tflite build/arch/*.tflite

The first file is the baseline: every row gives its ratio to it, measured in the same run
(this machine is noisy). The files take turns, ``--rounds`` times, each time with a fresh
interpreter and only that one alive (a second live interpreter slows tflite-runtime 2.14's
invokes, PLATFORM.md); a row is the median over its rounds of each round's median over
``--invokes`` invokes. Inputs are random: a CNN's work does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.errors import ModelError  # noqa: E402
from appliance.mood import runtime  # noqa: E402

KERNELS = {"built-in": True, "XNNPACK": False}  # name -> load_interpreter's exact


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("models", type=Path, nargs="+", help=".tflite files; the first is the baseline")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--invokes", type=int, default=200)
    return p.parse_args(argv)


def time_once(path: Path, exact: bool, invokes: int, rng: np.random.Generator) -> float:
    """Median milliseconds per invoke of a fresh one-thread interpreter of ``path``."""
    interpreter = runtime.load_interpreter(path, num_threads=1, exact=exact)
    detail = interpreter.get_input_details()[0]
    info = np.iinfo(detail["dtype"]) if np.issubdtype(detail["dtype"], np.integer) else None
    shape = tuple(detail["shape"])
    times = []
    for i in range(invokes + 5):  # the first few warm the caches
        x = (rng.integers(info.min, info.max + 1, shape) if info else rng.random(shape))
        interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
        start = time.perf_counter()
        interpreter.invoke()
        if i >= 5:
            times.append((time.perf_counter() - start) * 1000)
    del interpreter
    runtime.forget(path)
    return statistics.median(times)


def measure(paths: list[Path], rounds: int, invokes: int) -> dict[tuple[Path, str], float]:
    """(file, kernels) -> median over rounds of the per-round median ms per invoke."""
    rng = np.random.default_rng(0)
    seen: dict[tuple[Path, str], list[float]] = {}
    for _ in range(rounds):
        for path in paths:
            for kernels, exact in KERNELS.items():
                seen.setdefault((path, kernels), []).append(
                    time_once(path, exact, invokes, rng))
    return {key: statistics.median(values) for key, values in seen.items()}


def table(paths: list[Path], ms: dict[tuple[Path, str], float]) -> str:
    head = " | ".join(f"{k} ms | x baseline" for k in KERNELS)
    lines = [f"| model | KB | {head} |", "|---|---" + "|---|---" * len(KERNELS) + "|"]
    for path in paths:
        cells = " | ".join(f"{ms[path, k]:.2f} | {ms[path, k] / ms[paths[0], k]:.2f}"
                           for k in KERNELS)
        lines.append(f"| {path.name} | {path.stat().st_size // 1024} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ms = measure(args.models, args.rounds, args.invokes)
    except ModelError as exc:
        print(f"bench_latency: {exc}", file=sys.stderr)
        return 1
    print(f"{runtime.runtime_name()}, one thread, {args.rounds} rounds of {args.invokes} invokes")
    print(table(args.models, ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
