"""Trains Moodbox's emotion CNN on FER2013 with Keras 3 on any backend (TensorFlow, JAX, torch).

    python scripts/train.py --data fer2013_train_publictest.npz --out build/train
    python scripts/train.py --data fer2013.csv --out build/train          # Kaggle CSV
    KERAS_BACKEND=jax python scripts/train.py --data ...                  # no TensorFlow needed

Chooses on a validation split of Training, never on the test data: Training faces whose
pixels are identical to a PublicTest face are dropped, then a stratified 10% (fixed seed,
the same faces for every run) is held out (``ferdata.load_selection``); the best epoch is
chosen on it, and PublicTest is only reported, once, for the chosen epoch. ``--val
publictest`` trains on all of Training and chooses on PublicTest, as the shipped model was
made (kept to reproduce it; its PublicTest figure is then not a clean test).

Resumable: run the same command again and it continues from the last finished epoch
(``OUT/backup``, with the best epoch logged so far), and a larger ``--epochs`` extends a
finished run. The best epoch by validation accuracy is ``OUT/best.keras``;
``OUT/history.csv`` has every epoch;
``OUT/runs.jsonl`` keeps each run's settings and scores.
Augmentation is plain numpy + OpenCV so that no backend-specific ops are needed.
Beside this file: the settings (``train_args.py``), the network (``emotion_net.py``), the
batches (``face_batches.py``) and the schedule and extra callbacks (``train_callbacks.py``).
``--teacher`` distils trained models (say, two seeds) into this one: their averaged reading
of each face becomes part of its target, so a single network inherits most of an ensemble's
accuracy at one network's size and speed. Fold teachers read faces they never trained on:
``--fold K --folds N`` trains one on all but fold K and writes its reading of fold K to
``OUT/oof.npz``; a student takes the N files with ``--teacher-oof``. ``--swa N`` trains the
last N epochs at a constant learning rate and averages their weights into ``OUT/swa.keras``
(with batch-norm statistics recomputed for the averaged weights).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata
from emotion_net import model_from
from face_batches import FaceBatches
from train_args import parse_args
from train_callbacks import Budget, WeightAverage, lr_schedule, recompute_batch_norm


def split_data(args: argparse.Namespace) -> tuple[ferdata.Split, ferdata.Split, ferdata.Split]:
    """Training, validation and test faces as the settings ask; the test faces are only
    reported, never chosen on (unless ``--val publictest`` makes them the validation too)."""
    test = ferdata.load_split(args.data, "PublicTest")
    if args.val == "publictest":
        train, val = ferdata.load_split(args.data, "Training"), test
    else:
        selection = ferdata.split_validation(ferdata.load_split(args.data, "Training"),
                                             test.images, args.val_fraction)
        train, val = selection.train, selection.val
        print(f"validation: {len(val.labels)} Training faces held out; "
              f"{selection.copies_removed} Training copies of PublicTest faces removed")
    if args.limit:
        train = ferdata.take(train, np.arange(min(args.limit, len(train.labels))))
        val = ferdata.take(val, np.arange(min(args.limit, len(val.labels))))
        test = ferdata.take(test, np.arange(min(args.limit, len(test.labels))))
    return train, val, test


def soft_targets(split: ferdata.Split, ferplus_weight: float, smoothing: float) -> np.ndarray:
    """One-hot FER2013 labels mixed with the FER+ vote distribution and a little smoothing.

    FER+ votes say how ten people read each face; mixing them in teaches the network which
    classes a face is confusable with. Rows without usable votes keep the one-hot share.
    """
    onehot = np.eye(7, dtype=np.float32)[split.labels]
    target = onehot * (1.0 - smoothing) + smoothing / 7
    if split.votes is None or ferplus_weight == 0:
        return target
    totals = split.votes.sum(axis=1, keepdims=True)
    known = totals[:, 0] > 0
    dist = split.votes[known] / totals[known]
    target[known] = (1 - ferplus_weight) * target[known] + ferplus_weight * dist
    return target


def reading(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The model's probabilities for each face, averaged with those for its mirror image
    (as the exported file reads a face)."""
    faces = images[..., None].astype(np.float32) / 255.0
    views = (faces, faces[:, :, ::-1])
    return np.mean([model.predict(v, batch_size=256, verbose=0) for v in views], axis=0)


def teacher_targets(paths: list[Path], images: np.ndarray) -> np.ndarray:
    """The teachers' probabilities for each face, averaged over the models and over each
    face and its mirror image: an ensemble's reading, which one network can learn from.

    Read once on the plain faces; the augmentation is mild enough for it to still hold.
    """
    return np.mean([reading(keras.models.load_model(p), images) for p in paths], axis=0)


def oof_targets(paths: list[Path], count: int) -> np.ndarray:
    """Each training face's reading by the fold teacher that left it out (``--fold``).

    Raises:
        ValueError: a file was made on other faces, or the files leave faces uncovered.
    """
    total = np.full((count, 7), np.nan, dtype=np.float32)
    for path in paths:
        with np.load(path) as oof:
            if int(oof["count"]) != count:
                raise ValueError(f"{path}: made on {int(oof['count'])} training faces, not "
                                 f"{count}; train the fold teachers with the same data and "
                                 "--limit")
            total[oof["rows"]] = oof["probs"]
    missing = int(np.isnan(total[:, 0]).sum())
    if missing:
        raise ValueError(f"--teacher-oof: {missing} of {count} training faces have no fold "
                         "teacher's reading; train the missing folds")
    return total


def sample_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-face weights against class imbalance (disgust is 1.5% of Training), mean 1."""
    counts = np.bincount(labels, minlength=7).astype(np.float64)
    per_class = (len(labels) / (7 * np.maximum(counts, 1))) ** power
    weights = per_class[labels]
    return (weights / weights.mean()).astype(np.float32)


#: The folder in a run's output where ``BackupAndRestore`` keeps the resume point.
BACKUP = "backup"




def resume_epoch(out: Path) -> int:
    """The epoch a run in ``out`` resumes at: the one after the last that
    ``BackupAndRestore`` saved (``callbacks``), 0 for a new run."""
    try:
        saved = json.loads((out / BACKUP / "training_metadata.json").read_text())
        return int(saved["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def best_score(out: Path) -> float | None:
    """The best validation accuracy a resumed run in ``out`` has logged, None for a new run.

    ``ModelCheckpoint`` forgets its best when the process restarts, so without this the first
    epoch after a resume would replace ``best.keras`` however it scored.
    """
    if not resume_epoch(out):
        return None
    try:
        with (out / "history.csv").open(newline="") as log:
            scores = [float(row["val_accuracy"]) for row in csv.DictReader(log)]
    except (OSError, KeyError, ValueError):
        return None
    return max(scores, default=None)


def callbacks(args: argparse.Namespace) -> list[keras.callbacks.Callback]:
    """Resume point, best checkpoint, early stopping, LR schedule and the epoch log."""
    chosen: list[keras.callbacks.Callback] = [
        # Kept after the last epoch too, so that a larger --epochs extends a finished run.
        keras.callbacks.BackupAndRestore(str(args.out / BACKUP), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(str(args.out / "best.keras"), monitor="val_accuracy",
                                        mode="max", save_best_only=True,
                                        initial_value_threshold=best_score(args.out)),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                      patience=args.patience),
        keras.callbacks.LearningRateScheduler(lr_schedule(args)),
        # A new run starts its own log: best_score reads it back at a resume.
        keras.callbacks.CSVLogger(str(args.out / "history.csv"),
                                  append=resume_epoch(args.out) > 0),
    ]
    if args.swa:  # first, so that its file is written before the resume point
        chosen.insert(0, WeightAverage(args.out / "swa.npz", args.epochs - args.swa))
    if args.budget:  # first, so that the schedule and the checkpoints see the cut
        chosen.insert(0, Budget(args))
    return chosen


def optimizer(args: argparse.Namespace) -> keras.optimizers.Optimizer:
    """AdamW, or SGD with Nesterov momentum, both with decoupled weight decay."""
    if args.optimizer == "sgd":
        return keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True,
                                    weight_decay=args.weight_decay)
    return keras.optimizers.AdamW(args.lr, weight_decay=args.weight_decay)


def evaluate(model: keras.Model, val: ferdata.Split) -> dict[str, Any]:
    """Scores of the model on the validation faces."""
    probs = model.predict(val.images[..., None].astype(np.float32) / 255.0, verbose=0)
    return ferdata.scores(val.labels, probs.argmax(axis=1))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__)
    args.out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    train, val, test = split_data(args)
    targets = soft_targets(train, args.ferplus_weight, args.label_smoothing)
    share = args.teacher_weight
    if args.teacher:
        targets = (1 - share) * targets + share * teacher_targets(args.teacher, train.images)
    if args.teacher_oof:
        targets = ((1 - share) * targets
                   + share * oof_targets(args.teacher_oof, len(train.labels)))
    fold = None if args.fold is None else ferdata.fold_ids(train, args.folds)
    rows = np.arange(len(train.labels)) if fold is None else np.flatnonzero(fold != args.fold)
    batches = FaceBatches(train.images[rows], targets[rows],
                          sample_weights(train.labels[rows], args.class_weight_power),
                          args.batch, args.seed, train=True, degrade_share=args.degrade_aug,
                          epoch=resume_epoch(args.out), erase_share=args.erase,
                          mixup_alpha=args.mixup, workers=args.workers)
    val_batches = FaceBatches(val.images, np.eye(7, dtype=np.float32)[val.labels], None,
                              256, args.seed, train=False)
    model = (keras.models.load_model(args.init) if args.init else
             model_from(args))
    model.compile(optimizer=optimizer(args),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    started = time.time()
    history = model.fit(batches, validation_data=val_batches, epochs=args.epochs,
                        callbacks=callbacks(args), verbose=2)
    best = keras.models.load_model(args.out / "best.keras")
    result = evaluate(best, val)
    report("best epoch", result)
    if args.swa:
        result = {"best_epoch": result, **average_model(args, model, batches, val)}
    if fold is not None:
        left_out = np.flatnonzero(fold == args.fold)
        np.savez(args.out / "oof.npz", rows=left_out, count=len(train.labels),
                 probs=reading(best, train.images[left_out]))
    tested = evaluate(best, test)  # reported only: nothing above looked at it
    report("best epoch on PublicTest (reported, not chosen on)", tested)
    log_run(args, model, started, len(history.epoch), result, tested)
    return 0


def average_model(args: argparse.Namespace, model: keras.Model,
                  batches: keras.utils.PyDataset, val: ferdata.Split) -> dict[str, Any]:
    """Loads the averaged weights into ``model``, gives it its own batch-norm statistics,
    saves it as OUT/swa.keras and returns its scores."""
    averaging = WeightAverage(args.out / "swa.npz", args.epochs - args.swa)
    model.set_weights(averaging.mean)
    recompute_batch_norm(model, batches)
    model.save(args.out / "swa.keras")
    result = evaluate(model, val)
    report(f"weights averaged over {averaging.count} epochs", result)
    return result


def report(what: str, result: dict[str, Any]) -> None:
    """Prints a model's validation scores."""
    print(f"{what}: accuracy {result['accuracy']:.4f} macro-F1 {result['macro_f1']:.4f}")
    print("recall " + " ".join(f"{k} {v:.2f}" for k, v in result["recall"].items()))


def log_run(args: argparse.Namespace, model: keras.Model, started: float, epochs: int,
            result: dict[str, Any], tested: dict[str, Any]) -> None:
    """Appends this run's settings, machine and scores (validation, and PublicTest for the
    chosen epoch) to OUT/runs.jsonl."""
    settings = json.loads(json.dumps(vars(args), default=str))  # paths as text
    record = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(time.time() - started),
        "epochs_this_run": epochs,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "params": model.count_params(),
        "settings": settings,
        "validation": result,
        "publictest": tested,
    }
    with (args.out / "runs.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    sys.exit(main())
