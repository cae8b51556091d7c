"""Helpers for the mood tests: known face boxes and placing photos into camera frames."""

from __future__ import annotations

import cv2
import numpy as np

#: Face boxes (x, y, w, h) in the original photos (BlazeFace's boxes, checked by eye).
FACE_BOXES = {
    "astronaut": (178, 81, 94, 94),
    "camera": (176, 121, 88, 88),
    "grace_hopper": (166, 144, 201, 200),
}

def in_frame(image: np.ndarray, scale: float = 1.0, angle: float = 0.0,
             size: tuple[int, int] = (640, 480), centre: tuple[float, float] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` scaled and rotated about its centre (or ``centre``) into a grey frame.

    Returns:
        The BGR frame and the 2x3 matrix from image to frame pixels.
    """
    h, w = image.shape[:2]
    c = centre or (w / 2, h / 2)
    matrix = cv2.getRotationMatrix2D(c, angle, scale)
    matrix[:, 2] += np.array([size[0] / 2 - c[0], size[1] / 2 - c[1]])
    frame = cv2.warpAffine(image, matrix, size, borderValue=(114, 114, 114))
    return frame, matrix


def box_centre(box: tuple[float, float, float, float]) -> np.ndarray:
    """Centre (x, y) of an (x, y, w, h) box."""
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])
