"""The listener among the faces of a burst, and whether each of their crops is usable.

Pure functions over detections: ``track_people`` follows faces across the frames of a burst
by position, ``choose_listener`` picks one person (large and central: the one facing the
box from the sofa, not a passer-by at the edge), and ``crop_problem`` says why a crop
should not be classified (too small, blurred, turned away). Other people's faces never
enter the reading, so they cannot outvote the listener.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from appliance.mood.faces import Face

#: A face in the next frame belongs to a track when its centre moved less than this many
#: box widths (people on a sofa move little in 2 s; two people sit at least a face apart).
MAX_STEP = 1.0


@dataclass(frozen=True)
class Gates:
    """When a crop is not worth classifying (config ``mood.min_face_px`` etc.).

    Attributes:
        min_face_px: smallest face box width in frame pixels.
        min_sharpness: lowest variance of the Laplacian of the 48x48 grey crop. Of the
            3,589 PublicTest faces 2 are below 100 (1st percentile 416); a Gaussian blur of
            1.5 px on the crop brings a face's median to 47.
        max_turn: largest head turn, 0 (frontal) .. 1 (profile), from eyes and ears.
    """

    min_face_px: float = 24.0
    min_sharpness: float = 100.0
    max_turn: float = 0.6


def centre(face: Face) -> tuple[float, float]:
    """Centre of the face box."""
    x, y, w, h = face.box
    return x + w / 2, y + h / 2


def track_people(frames: Sequence[Sequence[Face]]) -> list[list[tuple[int, Face]]]:
    """Faces grouped into people: ``[[(frame, face), ...], ...]``, in order of appearance.

    Each face joins the track whose last face is nearest, if that is within ``MAX_STEP``
    box widths and the track has no face in this frame yet; otherwise it starts a track.
    """
    tracks: list[list[tuple[int, Face]]] = []
    for index, faces in enumerate(frames):
        taken: set[int] = set()
        for face in sorted(faces, key=lambda f: -f.area):
            best, best_step = None, MAX_STEP
            for k, track in enumerate(tracks):
                last_frame, last = track[-1]
                if k in taken or last_frame == index:
                    continue
                width = max(last.box[2], face.box[2], 1.0)
                step = math.dist(centre(last), centre(face)) / width
                if step < best_step:
                    best, best_step = k, step
            if best is None:
                tracks.append([(index, face)])
                taken.add(len(tracks) - 1)
            else:
                tracks[best].append((index, face))
                taken.add(best)
    return tracks


def choose_listener(tracks: Sequence[Sequence[tuple[int, Face]]], frame_size: tuple[int, int]
                    ) -> int | None:
    """Index of the listener's track: the largest mean face, discounted by distance from the
    frame's centre (half at the frame's edge), then seen in the most frames; None if none."""
    if not tracks:
        return None
    width, height = frame_size
    half_diag = math.hypot(width, height) / 2 or 1.0

    def weight(track: Sequence[tuple[int, Face]]) -> tuple[float, int]:
        size = float(np.mean([f.box[2] for _, f in track]))
        cx, cy = np.mean([centre(f) for _, f in track], axis=0)
        off = math.hypot(cx - width / 2, cy - height / 2) / half_diag
        return size * (1 - 0.5 * min(off, 1.0)), len(track)

    return max(range(len(tracks)), key=lambda k: weight(tracks[k]))


def turn(face: Face) -> float:
    """How far the head is turned, 0 (frontal) .. 1 (profile), from the eye-to-ear distances
    (each ear's horizontal distance from its eye: equal when frontal, one vanishes in
    profile); 0 when the detector gave no keypoints."""
    if len(face.keypoints) < 6:
        return 0.0
    right_eye, left_eye, _, _, right_ear, left_ear = face.keypoints[:6]
    right = abs(right_eye[0] - right_ear[0])
    left = abs(left_eye[0] - left_ear[0])
    return abs(right - left) / max(right + left, 1e-6)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of a grey crop (low = blurred or flat)."""
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def crop_problem(face: Face, crop: np.ndarray, gates: Gates) -> str | None:
    """Why this crop should not be classified, or None when it is usable."""
    if face.box[2] < gates.min_face_px:
        return f"too small ({face.box[2]:.0f} < {gates.min_face_px:g} px)"
    turned = turn(face)
    if turned > gates.max_turn:
        return f"turned away ({turned:.2f} > {gates.max_turn:g})"
    sharp = sharpness(crop)
    if sharp < gates.min_sharpness:
        return f"blurred (sharpness {sharp:.0f} < {gates.min_sharpness:g})"
    return None
