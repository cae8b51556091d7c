"""Learning-rate schedule and the callbacks of ``scripts/train.py`` beyond Keras's own: a
wall-clock budget and a running weight average (with its batch-norm statistics)."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers


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
