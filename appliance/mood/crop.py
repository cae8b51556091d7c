"""Cut a face out of a camera frame the way FER2013's training faces are framed.

FER2013 faces are 48x48 grey crops that a face detector made with some margin. Running our
detector (BlazeFace short-range) on 3,000 FER2013 Training faces, upscaled 6x into a grey
640x480 frame, gave (medians, in 48-pixel units): box side 40.5 (IQR 36.8-44.7), box centre
(24.0, 28.0), eyes at (14.9, 19.0) and (32.6, 18.8), eye line roll -0.4 degrees (IQR -6.1 to
5.1). So a training face is a square of ``48 / 40.5 = 1.19`` box sides whose centre sits
``(24 - 28.0) / 40.5 = -0.10`` box heights from the box centre (above it), with the eyes level
on average. ``scripts/measure_crop.py`` repeats the measurement; the numbers live in the
``"crop"`` object of ``models/emotion.json`` and are read from there at run time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.mood.faces import Face

DETECTOR = "blazeface_short_range"
# Downsampling a big face straight to 48 px with linear interpolation aliases; the crop is
# first warped to at most this many times 48 px and then area-averaged down.
_MAX_OVERSAMPLE = 4


@dataclass(frozen=True)
class CropSpec:
    """How a face box becomes a square crop.

    Attributes:
        scale: crop side as a multiple of the face box side.
        shift_y: crop centre offset from the box centre, in box heights (negative = up).
        align_eyes: rotate the crop so that the eyes are level.
        size: output side in pixels.
    """

    scale: float
    shift_y: float
    align_eyes: bool
    size: int = 48

    @classmethod
    def from_contract(cls, crop: Any, size: int, origin: str) -> CropSpec:
        """Reads the ``"crop"`` object of ``emotion.json``.

        Raises:
            ModelError: the object is missing or malformed, or made for another detector.
        """
        if not isinstance(crop, Mapping):
            raise ModelError(f'{origin}: no "crop" object; run scripts/measure_crop.py --write')
        if crop.get("detector") != DETECTOR:
            raise ModelError(
                f'{origin}: crop.detector is {crop.get("detector")!r}; this code has {DETECTOR!r}'
            )
        try:
            spec = cls(
                float(crop["scale"]), float(crop["shift_y"]), bool(crop["align_eyes"]), size
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f'{origin}: "crop" needs numbers scale and shift_y and a bool align_eyes ({exc})'
            ) from exc
        if not 0.5 <= spec.scale <= 4.0 or not -1.0 <= spec.shift_y <= 1.0:
            raise ModelError(f"{origin}: crop.scale or crop.shift_y out of range: {crop}")
        return spec


def crop_matrix(face: Face, spec: CropSpec, out_size: int | None = None) -> np.ndarray:
    """The 2x3 affine matrix from frame pixels to crop pixels for one face.

    Args:
        face: the detected face.
        spec: the crop geometry.
        out_size: side of the output the matrix maps to (default ``spec.size``).
    """
    size = out_size or spec.size
    x, y, w, h = face.box
    centre = (x + w / 2, y + h / 2 + spec.shift_y * h)
    angle = 0.0
    if spec.align_eyes:
        (lx, ly), (rx, ry) = face.eyes
        angle = math.degrees(math.atan2(ry - ly, rx - lx))
    side = spec.scale * max(w, h)
    # Rotating by the eye-line angle (counter-clockwise in OpenCV's convention) levels the eyes.
    matrix = cv2.getRotationMatrix2D(centre, angle, size / side)
    matrix[:, 2] += np.array([size / 2 - centre[0], size / 2 - centre[1]])
    return matrix


def crop_face(frame: np.ndarray, face: Face, spec: CropSpec) -> np.ndarray:
    """The face's grey uint8 crop of ``spec.size`` squared pixels.

    Args:
        frame: the BGR uint8 (or grey) frame the face was found in.
        face: the detected face.
        spec: the crop geometry.
    """
    side = spec.scale * max(face.box[2], face.box[3])
    factor = int(min(max(side // spec.size, 1), _MAX_OVERSAMPLE))
    big = spec.size * factor
    # Parts of the crop outside the frame are filled by replicating the edge, which is closer
    # to what the training crops show there than a black band.
    warped = cv2.warpAffine(
        frame, crop_matrix(face, spec, big), (big, big),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )
    if warped.ndim == 3:
        warped = cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY)
    if factor > 1:
        warped = cv2.resize(warped, (spec.size, spec.size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(warped, dtype=np.uint8)
