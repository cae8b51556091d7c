"""Train the valence/energy feature model on the 4Q data set and write ``models/valence.json``.

    python scripts/train_valence.py --data DIR            # or set MOODBOX_4Q_DIR
    python scripts/train_valence.py --data DIR --hidden 32 --out build/valence/mlp.json

The model is trained on window rows: each clip's 10-s windows (``TrackVectors.window``, as
the appliance reads a track) are separate rows carrying the clip's label, and the quantile step
is fitted on those rows. The box predicts a track from the length-weighted mean of its windows
(``TrackVectors.track``). ``--train-on tracks`` fits on one mean row per clip instead.

Features are computed with the package's own code (``appliance.music.track_vector``: numpy
statistics and the shipped musicnn tagger) and cached under ``build/valence/`` (git-ignored),
resumably: an interrupted run goes on where it stopped, and a change to the feature code or the
tagger starts a new cache. Training takes seconds; the cross-validated figures come from
``scripts/evaluate_music.py`` with the same settings.
Needs only numpy, PyAV and a TFLite runtime (the appliance's own dependencies).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import music4q  # noqa: E402
import valence_features  # noqa: E402
import valence_model  # noqa: E402

from appliance.music.track_vector import FEATURE_NAMES, FEATURES_VERSION  # noqa: E402

DEFAULT_OUT = ROOT / "models" / "valence.json"
#: The settings the shipped model was trained with (chosen by evaluate_music.py's CV).
SHIPPED = valence_model.FitConfig(hidden=32, l2=0.05, members=3, quantiles=65)
FORMAT = 3  # quantile step, members, and the tagger it reads (file, SHA-256, patches)
#: What a model can be fitted on (the first is the shipped model's): every 10-s window of a
#: clip, or each clip's mean row.
TRAIN_ON = ("windows", "tracks")


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """``--train-on``, ``--hidden``, ``--l2``, ``--steps``, ``--seed``, ``--members`` and
    ``--quantiles``, defaulting to the shipped model's."""
    parser.add_argument("--train-on", choices=TRAIN_ON, default=TRAIN_ON[0],
                        help="rows to fit on: each 10-s window, or each clip's mean "
                             "(default %(default)s)")
    parser.add_argument("--hidden", type=int, default=SHIPPED.hidden,
                        help="ReLU units in a hidden layer; 0 = linear (default %(default)s)")
    parser.add_argument("--l2", type=float, default=SHIPPED.l2,
                        help="weight decay (default %(default)s)")
    parser.add_argument("--steps", type=int, default=SHIPPED.steps,
                        help="full-batch Adam steps (default %(default)s)")
    parser.add_argument("--seed", type=int, default=SHIPPED.seed)
    parser.add_argument("--members", type=int, default=SHIPPED.members,
                        help="seeds averaged (default %(default)s)")
    parser.add_argument("--quantiles", type=int, default=SHIPPED.quantiles,
                        help="quantile knots per feature, 0 = none (default %(default)s)")


def fit_config(args: argparse.Namespace) -> valence_model.FitConfig:
    """The ``FitConfig`` the parsed arguments name."""
    return valence_model.FitConfig(hidden=args.hidden, l2=args.l2, steps=args.steps,
                                   seed=args.seed, members=args.members,
                                   quantiles=args.quantiles)


def training_rows(rows: valence_features.WindowRows, clips: int,
                  train_on: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows to fit on and the index of each row's clip: every window (``"windows"``) or
    each clip's length-weighted mean (``"tracks"``)."""
    if train_on == "tracks":
        return rows.tracks(clips), np.arange(clips)
    return rows.x, rows.clip


def main(argv: list[str] | None = None) -> int:
    """Compute (or load) the features, fit on every clip, write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"the 4Q folder (default ${music4q.DATA_ENV})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model file to write")
    parser.add_argument("--name", default="valence-4q", help="model name (version prefix)")
    add_fit_arguments(parser)
    args = parser.parse_args(argv)
    clips = music4q.load_clips(music4q.data_dir(args.data))
    rows = valence_features.window_rows(clips)
    x, owner = training_rows(rows, len(clips), args.train_on)
    quadrant = np.array([c.quadrant for c in clips])
    config = fit_config(args)
    model = valence_model.fit_ensemble(x, quadrant[owner], config)
    spec = to_spec(model, args.name, config, len(clips), _rows_note(args.train_on, len(x)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(spec, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {config}, "
          f"{len(clips)} clips as {spec['rows']}, features {rows.seconds:.3f} s CPU per clip")
    return 0


def _rows_note(train_on: str, count: int) -> str:
    if train_on == "tracks":
        return f"{count} clip means (length-weighted mean of the 10-s windows)"
    return f"{count} 10-s windows, each with its clip's label; tracks predicted from their mean"


def _numbers(a: np.ndarray) -> list[object]:
    return list(np.round(a.astype(np.float64), 6).tolist())


def _member(model: valence_model.QuadrantModel) -> dict[str, object]:
    last = len(model.layers) - 1
    return {"mean": _numbers(model.mean), "scale": _numbers(model.scale),
            "layers": [{"weights": _numbers(w), "bias": _numbers(b),
                        "activation": "linear" if i == last else "relu"}
                       for i, (w, b) in enumerate(model.layers)]}


def to_spec(model: valence_model.Ensemble, name: str, config: valence_model.FitConfig,
            clips: int, rows: str) -> dict[str, object]:
    """The JSON document ``appliance.music.estimate.ValenceEstimator`` loads (``rows`` says
    what it was fitted on; the loader does not read it)."""
    spec: dict[str, object] = {
        "name": name,
        "format": FORMAT,
        "trained_on": f"4Q audio emotion data set (Panda et al. 2018), {clips} clips",
        "fit": vars(config),
        "rows": rows,
        "windows": 3,
        "window_s": 10.0,
        "features_version": FEATURES_VERSION,
        "features": list(FEATURE_NAMES),
        "tagger": valence_features.tagger_spec(),
        "outputs": ["Q1", "Q2", "Q3", "Q4"],
    }
    if model.knots is not None and model.normal is not None:
        spec["quantiles"] = {"knots": model.knots.tolist(), "normal": _numbers(model.normal)}
    spec["members"] = [_member(m) for m in model.members]
    return spec


if __name__ == "__main__":
    sys.exit(main())
