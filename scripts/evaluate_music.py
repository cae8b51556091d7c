"""Cross-validated figures of the valence/energy estimator on 4Q, with vibenet as the baseline.

    python scripts/evaluate_music.py --data DIR        # or set MOODBOX_4Q_DIR

Five folds grouped by artist (``music4q.grouped_folds``): the model is fitted on four and
scored on the fifth, with the settings ``train_valence.py`` ships (or those given). Reports
valence AUC (Q1+Q4 against Q2+Q3), arousal AUC (Q1+Q2 against Q3+Q4), the two hard pairs
(sad Q3 against calm Q4 and angry Q2 against happy Q1, both on valence), four-quadrant
accuracy (valence and energy split at 0.5), per-quadrant recall, and CPU seconds per track.

``vibenet`` 0.1.0 (GPL-3.0, onnxruntime + librosa) is scored zero-shot in the same run when a
separate venv has it (``--vibenet-python``, default ``build/venv-vibenet/bin/python``; make it
with ``python3 -m venv build/venv-vibenet && build/venv-vibenet/bin/pip install vibenet==0.1.0``).
It never runs in the appliance's venv; without it the script says so and goes on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import music4q  # noqa: E402
import train_valence  # noqa: E402
import valence_features  # noqa: E402
import valence_model  # noqa: E402

from appliance.music.estimate import ValenceEstimator  # noqa: E402

VIBENET_PYTHON = ROOT / "build" / "venv-vibenet" / "bin" / "python"
VIBENET_CACHE = valence_features.CACHE_DIR / "vibenet.jsonl"
# A deliberately pessimistic guess for numpy FFT/matmul work on a Pi 4 against a desktop core.
PI4_SLOWDOWN = 10.0
COLUMNS = ("valence AUC", "arousal AUC", "sad-calm AUC", "happy-angry AUC", "4Q acc")


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    labels = labels.astype(bool)
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    pos, neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def figures(quadrant: np.ndarray, valence: np.ndarray, energy: np.ndarray) -> dict[str, float]:
    """The table's columns and per-quadrant recall for one model's predictions."""
    positive, high = np.isin(quadrant, (1, 4)), np.isin(quadrant, (1, 2))
    low, loud = np.isin(quadrant, (3, 4)), np.isin(quadrant, (1, 2))
    guess = np.where(valence >= 0.5, np.where(energy >= 0.5, 1, 4), np.where(energy >= 0.5, 2, 3))
    result = {
        "valence AUC": auc(positive, valence),
        "arousal AUC": auc(high, energy),
        "sad-calm AUC": auc(quadrant[low] == 4, valence[low]),
        "happy-angry AUC": auc(quadrant[loud] == 1, valence[loud]),
        "4Q acc": float(np.mean(guess == quadrant)),
    }
    for q in range(1, 5):
        result[f"Q{q} recall"] = float(np.mean(guess[quadrant == q] == q))
    return result


def cross_validate(x: np.ndarray, quadrant: np.ndarray, folds: np.ndarray,
                   config: valence_model.FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (valence, energy) for every clip."""
    valence, energy = np.zeros(len(x)), np.zeros(len(x))
    for fold in np.unique(folds):
        test = folds == fold
        model = valence_model.fit_ensemble(x[~test], quadrant[~test], config)
        valence[test], energy[test] = valence_model.valence_energy(model.predict(x[test]))
    return valence, energy


def vibenet(clips: list[music4q.Clip], python: Path) -> dict[str, dict[str, float]] | None:
    """vibenet's predictions by song id (cached in build/), or None when it is not installed."""
    done: dict[str, dict[str, float]] = {}
    if VIBENET_CACHE.exists():
        for line in VIBENET_CACHE.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[Path(row["path"]).stem] = row
    todo = [str(c.path) for c in clips if c.song_id not in done]
    if todo:
        if not python.exists():
            return None
        print(f"vibenet: predicting {len(todo)} clips with {python}", file=sys.stderr)
        result = subprocess.run(
            ["nice", "-n", "10", str(python), str(ROOT / "scripts" / "vibenet_predict.py")],
            input="\n".join(todo), capture_output=True, text=True, check=False)
        with VIBENET_CACHE.open("a", encoding="utf-8") as cache:
            for line in result.stdout.splitlines():
                cache.write(line + "\n")
                row = json.loads(line)
                done[Path(row["path"]).stem] = row
    return done


def time_estimator(clips: list[music4q.Clip], count: int) -> float:
    """CPU seconds per track of the shipped estimator end to end (decode, features, model),
    the median over ``count`` clips, counting every thread of the process (BLAS included)."""
    estimator = ValenceEstimator()
    spent = []
    for clip in clips[::max(1, len(clips) // count)]:
        started = time.process_time()
        estimator.estimate(clip.path)
        spent.append(time.process_time() - started)
    return float(np.median(spent))


def main(argv: list[str] | None = None) -> int:
    """Print the figures table (markdown) and per-quadrant recall."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"the 4Q folder (default ${music4q.DATA_ENV})")
    parser.add_argument("--vibenet-python", type=Path, default=VIBENET_PYTHON)
    parser.add_argument("--timing", type=int, default=30, help="clips timed end to end")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    train_valence.add_fit_arguments(parser)
    args = parser.parse_args(argv)
    clips = music4q.load_clips(music4q.data_dir(args.data))
    quadrant = np.array([c.quadrant for c in clips])
    x, feature_s = valence_features.clip_features(clips)
    folds = music4q.grouped_folds(clips)
    config = train_valence.fit_config(args)
    rows = {_model_name(config):
            figures(quadrant, *cross_validate(x, quadrant, folds, config))}
    seconds = {next(iter(rows)): time_estimator(clips, args.timing) if args.timing else feature_s}
    baseline = vibenet(clips, args.vibenet_python)
    if baseline is None:
        print(f"vibenet: not installed at {args.vibenet_python}; baseline left out",
              file=sys.stderr)
    else:
        ok = [i for i, c in enumerate(clips) if "valence" in baseline.get(c.song_id, {})]
        v = np.array([baseline[clips[i].song_id]["valence"] for i in ok])
        e = np.array([baseline[clips[i].song_id]["energy"] for i in ok])
        name = f"vibenet 0.1.0 zero-shot ({len(ok)} clips)"
        rows[name] = figures(quadrant[ok], v, e)
        seconds[name] = float(np.median([baseline[clips[i].song_id]["seconds"] for i in ok]))
    print_table(rows, seconds, config, len(clips))
    if args.json:
        args.json.write_text(json.dumps({"figures": rows, "cpu_s_per_track": seconds,
                                         "fit": vars(config)}, indent=1) + "\n")
    return 0


def _model_name(config: valence_model.FitConfig) -> str:
    quantiles = "quantile-normalised " if config.quantiles else ""
    seeds = f", {config.members} seeds averaged" if config.members > 1 else ""
    return f"{quantiles}features + {'MLP' if config.hidden else 'linear'} softmax{seeds} (this)"


def print_table(rows: dict[str, dict[str, float]], seconds: dict[str, float],
                config: valence_model.FitConfig, clips: int) -> None:
    """The markdown table the README and the card carry."""
    print(f"4Q, {clips} clips, 5-fold CV grouped by artist; fit {vars(config)}; "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| model | " + " | ".join(COLUMNS) + " | Q1 / Q2 / Q3 / Q4 recall | CPU s/track |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for name, result in rows.items():
        cells = [f"{result[c]:.3f}" if "AUC" in c else f"{result[c]:.1%}" for c in COLUMNS]
        recall = " / ".join(f"{result[f'Q{q} recall']:.0%}" for q in range(1, 5))
        print(f"| {name} | " + " | ".join(cells) + f" | {recall} | {seconds[name]:.2f} |")
    ours = next(iter(seconds.values()))
    print(f"\nPi 4 (assumed, not measured: one Cortex-A72 core {PI4_SLOWDOWN:.0f}x slower than "
          f"this machine's): {ours * PI4_SLOWDOWN:.1f} s per track, "
          f"{ours * PI4_SLOWDOWN * 1000 / 3600:.1f} h of one core per 1,000 tracks")


if __name__ == "__main__":
    sys.exit(main())
