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
(``OUT/backup``), and a larger ``--epochs`` extends a finished run. The best epoch by
validation accuracy is ``OUT/best.keras``; ``OUT/history.csv`` has every epoch;
``OUT/runs.jsonl`` keeps each run's settings and scores.
Augmentation is plain numpy + OpenCV so that no backend-specific ops are needed.
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
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
from keras import layers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import degrade
import ferdata

ARCHS = ("vgg", "residual", "separable")  # build_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings; every one of them is written to the run log."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="npz (project) or fer2013.csv")
    p.add_argument("--out", type=Path, default=Path("build/train"))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1.5e-3, help="peak learning rate (AdamW)")
    p.add_argument("--warmup", type=int, default=2, help="epochs of linear warm-up")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--widths", default="24,48,96,192", help="conv channels per block")
    p.add_argument("--arch", choices=ARCHS, default="vgg",
                   help="vgg (the shipped network), residual or separable blocks (build_model)")
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


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flip, rotation (±10°), zoom (±10%), shift (±10%), brightness and contrast."""
    out = np.empty(images.shape, dtype=np.float32)
    for i, img in enumerate(images):
        angle = rng.uniform(-10, 10)
        scale = rng.uniform(0.9, 1.1)
        matrix = cv2.getRotationMatrix2D((24, 24), angle, scale)
        matrix[:, 2] = matrix[:, 2] + rng.uniform(-4.8, 4.8, size=2)
        warped = cv2.warpAffine(img, matrix, (48, 48), borderMode=cv2.BORDER_REFLECT_101)
        if rng.random() < 0.5:
            warped = warped[:, ::-1]
        face = warped.astype(np.float32)
        mean = face.mean()
        face = (face - mean) * rng.uniform(0.8, 1.2) + mean + rng.uniform(-25, 25)
        out[i] = face
    return np.clip(out, 0, 255)


def erase(faces: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Random erasing: with probability ``share`` a face gets a rectangle of 2-25% of its
    area, of aspect 0.3-3.3, filled with noise, so that no single region (a mouth hidden by
    a hand, a shadow) can carry the whole reading. Changes ``faces`` (float) in place."""
    for i in np.flatnonzero(rng.random(len(faces)) < share):
        area = rng.uniform(0.02, 0.25) * 48 * 48
        aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
        h = min(48, max(1, round(math.sqrt(area * aspect))))
        w = min(48, max(1, round(math.sqrt(area / aspect))))
        y, x = rng.integers(0, 49 - h), rng.integers(0, 49 - w)
        faces[i, y:y + h, x:x + w] = rng.uniform(0, 255, (h, w))
    return faces


def mixup(arrays: tuple[np.ndarray, ...], alpha: float,
          rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Mixes a batch (faces, targets and weights alike) with a shuffled copy of itself."""
    share = rng.beta(alpha, alpha)
    order = rng.permutation(len(arrays[0]))
    return tuple((share * a + (1 - share) * a[order]).astype(np.float32) for a in arrays)


#: The folder in a run's output where ``BackupAndRestore`` keeps the resume point.
BACKUP = "backup"


class FaceBatches(keras.utils.PyDataset):
    """Shuffled, optionally augmented batches of (faces in [0, 1], targets, weights).

    Each epoch's order comes from a generator seeded by ``(seed, epoch)`` and each batch's
    draws from one seeded by ``(seed, epoch, index)``: a run resumed at ``epoch`` sees what an
    uninterrupted run would have (with one generator per process it replayed the first
    epoch's draws), and batches made by ``workers`` threads in any order are the same.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
                 batch: int, seed: int, train: bool, degrade_share: float = 0.0,
                 epoch: int = 0, erase_share: float = 0.0, mixup_alpha: float = 0.0,
                 workers: int = 1) -> None:
        super().__init__(workers=workers)
        self.images, self.targets, self.weights = images, targets, weights
        self.batch, self.train, self.degrade_share = batch, train, degrade_share
        self.erase_share, self.mixup_alpha = erase_share, mixup_alpha
        self.seed, self.epoch = seed, epoch
        self._draw()

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        rows = self.order[index * self.batch:(index + 1) * self.batch]
        faces = self.images[rows]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.train and self.degrade_share > 0:
            faces = degrade.degrade_some(faces, self.degrade_share, rng)
        faces = augment(faces, rng) if self.train else faces.astype(np.float32)
        if self.train and self.erase_share > 0:
            faces = erase(faces, self.erase_share, rng)
        batch: tuple[np.ndarray, ...] = (faces[..., None] / 255.0, self.targets[rows])
        if self.weights is not None:
            batch = (*batch, self.weights[rows])
        if self.train and self.mixup_alpha > 0:
            batch = mixup(batch, self.mixup_alpha, rng)
        return batch

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._draw()

    def _draw(self) -> None:
        count = len(self.images)
        self.order = (np.random.default_rng([self.seed, self.epoch]).permutation(count)
                      if self.train else np.arange(count))


def resume_epoch(out: Path) -> int:
    """The epoch a run in ``out`` resumes at: the one after the last that
    ``BackupAndRestore`` saved (``callbacks``), 0 for a new run."""
    try:
        saved = json.loads((out / BACKUP / "training_metadata.json").read_text())
        return int(saved["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def build_model(widths: list[int], dense: int, dropout: float, arch: str = "vgg") -> keras.Model:
    """CNN of one block per width, each halving the size, then a dense head.

    ``arch``: "vgg", two 3x3 conv + BN + ReLU a block (the shipped network); "residual", the
    same two convs with the block's input added back (a 1x1 conv where the width changes);
    "separable", depthwise-separable 3x3 convs, about 7x fewer multiply-accumulates a conv,
    so that a wider network fits the same time per face.
    """
    inputs = keras.Input((48, 48, 1), name="face")
    x = inputs
    for i, width in enumerate(widths):
        x = _block(x, width, arch)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(dropout * (i + 1) / (2 * len(widths)))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(7, activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="moodbox_emotion")


def _block(x: Any, width: int, arch: str) -> Any:
    if arch != "residual":
        for _ in range(2):
            # A separable conv on the one grey channel would be a plain conv done slowly.
            x = _conv(x, width, separable=arch == "separable" and x.shape[-1] > 1)
        return x
    y = _conv(_conv(x, width), width, relu=False)
    if x.shape[-1] != width:
        x = layers.BatchNormalization()(layers.Conv2D(width, 1, use_bias=False)(x))
    return layers.ReLU()(layers.Add()([x, y]))


def _conv(x: Any, width: int, separable: bool = False, relu: bool = True) -> Any:
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = layers.BatchNormalization()(conv(width, 3, padding="same", use_bias=False)(x))
    return layers.ReLU()(x) if relu else x


def model_from(args: argparse.Namespace) -> keras.Model:
    """The untrained network that ``args`` describe."""
    return build_model([int(w) for w in args.widths.split(",")], args.dense, args.dropout,
                       args.arch)


def lr_schedule(args: argparse.Namespace):
    """Linear warm-up, then cosine decay to 2% of the peak by the last epoch."""
    def schedule(epoch: int, _lr: float) -> float:
        if args.swa and epoch >= args.epochs - args.swa:
            return args.swa_lr
        if epoch < args.warmup:
            return args.lr * (epoch + 1) / (args.warmup + 1)
        progress = (epoch - args.warmup) / max(1, args.epochs - args.warmup - 1)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
    return schedule


class Budget(keras.callbacks.Callback):
    """Fits the training (``model.fit``) into ``args.budget`` seconds of wall-clock time.

    After every epoch but this process's first (which also compiles, so it is no measure),
    ``args.epochs`` becomes what the mean epoch time so far allows, never more than asked;
    the schedule reads ``args.epochs`` each epoch, so it decays to its floor by the new end.
    Re-estimated each epoch because epochs slow down when runs beside this one start: on a
    GPU machine shared by 8 runs, an estimate taken once, at the second epoch, overran.
    """

    def __init__(self, args: argparse.Namespace,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.args, self.clock, self.asked = args, clock, args.epochs
        self.started = clock()
        self.first: tuple[int, float] | None = None  # (epoch, time) the first epoch ended

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (epoch, now)
        else:
            per_epoch = (now - self.first[1]) / (epoch - self.first[0])
            left = self.args.budget - (now - self.started)
            epochs = min(self.asked, epoch + 1 + max(0, int(left / per_epoch)))
            if epochs != self.args.epochs:
                print(f"budget: {per_epoch:.1f} s an epoch; {epochs} epochs")
            self.args.epochs = epochs
        if epoch + 1 >= self.args.epochs:
            self.model.stop_training = True


class WeightAverage(keras.callbacks.Callback):
    """Running mean of the weights at the end of each of the last ``count`` epochs.

    Kept in ``path`` after every epoch, with the last epoch added, so that a resumed run
    neither loses nor double-counts an epoch.
    """

    def __init__(self, path: Path, first_epoch: int) -> None:
        super().__init__()
        self.path, self.first_epoch = path, first_epoch
        self.mean: list[np.ndarray] = []
        self.count, self.last_epoch = 0, -1
        if path.exists():
            with np.load(path) as saved:
                self.count, self.last_epoch = int(saved["count"]), int(saved["last_epoch"])
                self.mean = [saved[f"w{i}"] for i in range(len(saved.files) - 2)]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch < self.first_epoch or epoch <= self.last_epoch:
            return
        weights = self.model.get_weights()
        self.count += 1
        self.mean = weights if self.count == 1 else [
            m + (w - m) / self.count for m, w in zip(self.mean, weights, strict=True)]
        self.last_epoch = epoch
        arrays = {f"w{i}": m for i, m in enumerate(self.mean)}
        np.savez(self.path, count=self.count, last_epoch=epoch, **arrays)


def recompute_batch_norm(model: keras.Model, batches: Sequence[tuple[np.ndarray, ...]]) -> None:
    """Sets every BatchNormalization layer's moving statistics to their mean over one pass
    of ``batches``: averaged weights need statistics of their own, not averaged ones."""
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for index in range(len(batches)):
        for layer in norms:
            layer.momentum = index / (index + 1)  # the running mean of the batch statistics
        model(batches[index][0], training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum


def callbacks(args: argparse.Namespace) -> list[keras.callbacks.Callback]:
    """Resume point, best checkpoint, early stopping, LR schedule and the epoch log."""
    chosen: list[keras.callbacks.Callback] = [
        # Kept after the last epoch too, so that a larger --epochs extends a finished run.
        keras.callbacks.BackupAndRestore(str(args.out / BACKUP), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(str(args.out / "best.keras"), monitor="val_accuracy",
                                        mode="max", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                      patience=args.patience),
        keras.callbacks.LearningRateScheduler(lr_schedule(args)),
        keras.callbacks.CSVLogger(str(args.out / "history.csv"), append=True),
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
    args = parse_args(argv)
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
