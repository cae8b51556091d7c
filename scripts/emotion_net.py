"""The emotion CNN that ``scripts/train.py`` trains, in the architectures ``--arch`` names."""

from __future__ import annotations

import argparse
from typing import Any

import keras
from keras import layers


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
