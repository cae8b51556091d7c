"""Command-line settings of ``scripts/train.py``, apart from the training itself so that
recipe files (``scripts/recipes.py``) can be checked without loading Keras."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata

ARCHS = ("vgg", "residual", "separable")  # emotion_net.build_model


def parse_args(argv: list[str] | None = None,
               description: str | None = None) -> argparse.Namespace:
    """Command-line settings; every one of them is written to the run log. ``description``
    heads the help (train.py gives its docstring)."""
    p = argparse.ArgumentParser(prog="train.py", description=description,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="npz (project) or fer2013.csv")
    p.add_argument("--out", type=Path, default=Path("build/train"))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1.5e-3,
                   help="peak learning rate, of AdamW or SGD (see --optimizer)")
    p.add_argument("--warmup", type=int, default=2, help="epochs of linear warm-up")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--widths", default="24,48,96,192", help="conv channels per block")
    p.add_argument("--arch", choices=ARCHS, default="vgg",
                   help="vgg (the shipped network), residual or separable blocks "
                        "(emotion_net.build_model)")
    p.add_argument("--dense", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.4)
    p.add_argument("--class-weight-power", type=float, default=0.5,
                   help="sample weight = (N / (K * count)) ** power; 0 = none, 1 = balanced")
    p.add_argument("--ferplus-weight", type=float, default=0.25,
                   help="share of the target taken from the FER+ vote distribution")
    p.add_argument("--label-smoothing", type=float, default=0.05)
    p.add_argument("--patience", type=int, default=10, help="early-stopping patience")
    p.add_argument("--val", choices=("training-split", "publictest"),
                   default="training-split",
                   help="choose epochs on a held-out split of Training (default) or, as the "
                        "shipped model was, on PublicTest")
    p.add_argument("--val-fraction", type=float, default=ferdata.VAL_FRACTION,
                   help="share of Training held out for validation")
    p.add_argument("--degrade-aug", type=float, default=0.0, metavar="P",
                   help="degrade each training face with probability P (camera conditions)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mix each training batch with a shuffled copy of itself, the share "
                        "drawn from Beta(ALPHA, ALPHA); 0 = off")
    p.add_argument("--erase", type=float, default=0.0, metavar="P",
                   help="cover a random rectangle of each training face with noise, with "
                        "probability P (random erasing)")
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw",
                   help="AdamW, or SGD with Nesterov momentum 0.9; --lr is the peak of either")
    p.add_argument("--budget", type=float, default=0.0, metavar="SECONDS",
                   help="fit the training into this wall-clock time: each epoch, --epochs "
                        "is cut to what the measured epoch time allows; 0 = off")
    p.add_argument("--workers", type=int, default=1,
                   help="threads that make the training batches (the augmentation) while the "
                        "network trains; the draws are the same for any number")
    p.add_argument("--limit", type=int, default=0, help="use only N training faces (smoke runs)")
    p.add_argument("--init", type=Path, help="start from this trained .keras (fine-tuning)")
    p.add_argument("--teacher", type=Path, nargs="+", default=[],
                   help="trained .keras model(s) whose averaged reading is mixed into the "
                        "targets (distillation)")
    p.add_argument("--fold", type=int, metavar="K",
                   help="train a fold teacher: leave out fold K of --folds (ferdata.fold_ids) "
                        "and write the best epoch's reading of those faces to OUT/oof.npz")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--teacher-oof", type=Path, nargs="+", default=[], metavar="OOF",
                   help="fold teachers' oof.npz files, one per fold: each face's target takes "
                        "the reading of the teacher that did not train on it (distillation)")
    p.add_argument("--teacher-weight", type=float, default=0.5,
                   help="share of the teachers' reading in each target")
    p.add_argument("--swa", type=int, default=0, metavar="N",
                   help="average the weights of the last N epochs (stochastic weight "
                        "averaging) into OUT/swa.keras, trained at a constant --swa-lr")
    p.add_argument("--swa-lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.fold is not None and not 0 <= args.fold < args.folds:
        p.error(f"--fold {args.fold}: a fold is 0 to {args.folds - 1} with --folds {args.folds}")
    # The weight average's window is fixed from --epochs when training starts, which the
    # budget later cuts; and two kinds of teacher would each dilute the other's share.
    if args.budget and args.swa:
        p.error("--budget with --swa: the averaging window would miss the cut epochs; use one")
    if args.teacher and args.teacher_oof:
        p.error("--teacher with --teacher-oof: give one kind of teacher")
    return args
