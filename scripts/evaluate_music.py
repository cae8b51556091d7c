"""Cross-validated figures of the valence/energy estimator on 4Q, with vibenet as the baseline.

    python scripts/evaluate_music.py --data DIR        # or set MOODBOX_4Q_DIR
    python scripts/evaluate_music.py --fold-seeds 1 2 3 4 --timing 0   # held-out groupings

Five folds grouped by artist (``music4q.grouped_folds``): the model is fitted on four and
scored on the fifth, with the settings ``train_valence.py`` ships (or those given): fitted on
the training clips' 10-s window rows (quantile step included), and each held-out clip predicted
from the length-weighted mean of its windows, as the appliance predicts a track. Fold seed 0 is
the grouping the settings were chosen on; ``--fold-seeds 1 2 3 4`` scores groupings that took
no part in any choice and adds their mean. Reports
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


def cross_validate(x: np.ndarray, owner: np.ndarray, tracks: np.ndarray, quadrant: np.ndarray,
                   folds: np.ndarray, config: valence_model.FitConfig
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (valence, energy) for every clip.

    Args:
        x: the training rows (windows, or one row per clip); ``owner`` the clip of each row.
        tracks: clips x features, what each held-out clip is predicted from.
        quadrant: each clip's label; ``folds`` each clip's fold.
        config: the fit settings.
    """
    valence, energy = np.zeros(len(tracks)), np.zeros(len(tracks))
    for fold in np.unique(folds):
        test = folds == fold
        train = ~test[owner]
        model = valence_model.fit_ensemble(x[train], quadrant[owner[train]], config)
        valence[test], energy[test] = valence_model.valence_energy(model.predict(tracks[test]))
    return valence, energy


def mean_figures(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's mean over several runs (fold seeds)."""
    return {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}


def our_rows(clips: list[music4q.Clip], rows: valence_features.WindowRows,
             args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The model's figures per fold seed, and their mean when there are several."""
    quadrant = np.array([c.quadrant for c in clips])
    x, owner = train_valence.training_rows(rows, len(clips), args.train_on)
    tracks, config = rows.tracks(len(clips)), train_valence.fit_config(args)
    name = _model_name(config, args.train_on)
    runs = {seed: figures(quadrant, *cross_validate(
        x, owner, tracks, quadrant, music4q.grouped_folds(clips, seed=seed), config))
        for seed in args.fold_seeds}
    if len(runs) == 1:
        return {name: runs[args.fold_seeds[0]]}
    table = {f"{name}, fold seed {seed}": run for seed, run in runs.items()}
    seeds = ", ".join(str(seed) for seed in runs)
    table[f"{name}, mean of fold seeds {seeds}"] = mean_figures(list(runs.values()))
    return table


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
    parser.add_argument("--fold-seeds", type=int, nargs="+", default=[0],
                        help="artist groupings to score (default 0, the chosen-on one)")
    parser.add_argument("--vibenet-python", type=Path, default=VIBENET_PYTHON)
    parser.add_argument("--timing", type=int, default=30,
                        help="clips timed end to end; 0 = the feature cache's figure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    train_valence.add_fit_arguments(parser)
    args = parser.parse_args(argv)
    clips = music4q.load_clips(music4q.data_dir(args.data))
    features = valence_features.window_rows(clips)
    table = our_rows(clips, features, args)
    ours = time_estimator(clips, args.timing) if args.timing else features.seconds
    seconds = dict.fromkeys(table, ours)
    _add_vibenet(table, seconds, clips, args.vibenet_python)
    config = train_valence.fit_config(args)
    print_table(table, seconds, config, len(clips), args)
    if args.json:
        args.json.write_text(json.dumps({"figures": table, "cpu_s_per_track": seconds,
                                         "fit": vars(config), "train_on": args.train_on,
                                         "fold_seeds": args.fold_seeds}, indent=1) + "\n")
    return 0


def _add_vibenet(table: dict[str, dict[str, float]], seconds: dict[str, float],
                 clips: list[music4q.Clip], python: Path) -> None:
    """vibenet's row, when its venv or its cached predictions are there (zero-shot: no folds)."""
    baseline = vibenet(clips, python)
    if baseline is None:
        print(f"vibenet: not installed at {python}; baseline left out", file=sys.stderr)
        return
    quadrant = np.array([c.quadrant for c in clips])
    ok = [i for i, c in enumerate(clips) if "valence" in baseline.get(c.song_id, {})]
    v = np.array([baseline[clips[i].song_id]["valence"] for i in ok])
    e = np.array([baseline[clips[i].song_id]["energy"] for i in ok])
    name = f"vibenet 0.1.0 zero-shot ({len(ok)} clips)"
    table[name] = figures(quadrant[ok], v, e)
    seconds[name] = float(np.median([baseline[clips[i].song_id]["seconds"] for i in ok]))


def _model_name(config: valence_model.FitConfig, train_on: str) -> str:
    quantiles = "quantile-normalised " if config.quantiles else ""
    seeds = f", {config.members} seeds averaged" if config.members > 1 else ""
    rows = "trained on 10-s windows" if train_on == "windows" else "trained on clip means"
    model = "MLP" if config.hidden else "linear"
    return f"{quantiles}features + {model} softmax{seeds}, {rows} (this)"


def print_table(rows: dict[str, dict[str, float]], seconds: dict[str, float],
                config: valence_model.FitConfig, clips: int, args: argparse.Namespace) -> None:
    """The markdown table the README and the card carry."""
    timing = f"median of {args.timing} clips end to end" if args.timing else "feature cache"
    print(f"4Q, {clips} clips, 5-fold CV grouped by artist, fold seeds "
          f"{' '.join(map(str, args.fold_seeds))}; fit {vars(config)}, on {args.train_on}; "
          f"CPU s: {timing}; {time.strftime('%Y-%m-%d')}\n")
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
