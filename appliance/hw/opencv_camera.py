"""A USB webcam or a video file, read through OpenCV's ``VideoCapture``."""

from __future__ import annotations

import logging
import time
from typing import Any

import cv2
import numpy as np

from appliance.errors import CameraUnavailable
from appliance.hw.camera import Camera

log = logging.getLogger(__name__)
#: Asked of a webcam for "auto": larger than any, so the driver picks its largest mode.
LARGEST = (10000, 10000)


class OpenCVCamera(Camera):
    """Frames from ``cv2.VideoCapture(device)``.

    A webcam is opened only for a check: ``open()`` starts it and reads frames for
    ``warmup_s`` seconds so that auto exposure settles and stale buffered frames are gone.
    A video file is read from where the previous check stopped and loops at its end.

    Args:
        device: webcam index, or the path of a video file.
        warmup_s: settling time of a webcam (ignored for files).
        size: ``(width, height)`` asked of a webcam; None asks for its largest mode.
    """

    def __init__(self, device: int | str, warmup_s: float = 0.0,
                 size: tuple[int, int] | None = None) -> None:
        self.device = device
        self.warmup_s = warmup_s
        self.size = size
        self._capture: Any = None
        self._position = 0.0  # next frame of a video file

    @property
    def is_file(self) -> bool:
        """True when ``device`` is a video file rather than a webcam index."""
        return isinstance(self.device, str)

    def open(self) -> None:
        """Opens the webcam or file.

        Raises:
            CameraUnavailable: OpenCV cannot open it or it gives no frame.
        """
        self.close()
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailable(f"camera opencv:{self.device}: OpenCV cannot open it")
        self._capture = capture
        if self.is_file:
            capture.set(cv2.CAP_PROP_POS_FRAMES, self._position)
        else:
            # Asked for more than any webcam has, V4L2 settles on the largest mode it has.
            width, height = self.size or LARGEST
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            log.debug("webcam %s: %dx%d frames", self.device,
                      capture.get(cv2.CAP_PROP_FRAME_WIDTH),
                      capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            deadline = time.monotonic() + self.warmup_s
            while time.monotonic() < deadline:
                self.capture()

    def capture(self) -> np.ndarray:
        """The next frame, BGR uint8.

        Raises:
            CameraUnavailable: closed, or the webcam stopped giving frames.
        """
        if self._capture is None:
            raise CameraUnavailable(f"camera opencv:{self.device} is not open")
        ok, frame = self._capture.read()
        if not ok and self.is_file:  # end of the video: loop
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraUnavailable(f"camera opencv:{self.device}: no frame")
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return np.asarray(frame, dtype=np.uint8)

    def close(self) -> None:
        """Releases the device (a file remembers its position)."""
        if self._capture is not None:
            if self.is_file:
                self._position = self._capture.get(cv2.CAP_PROP_POS_FRAMES)
            self._capture.release()
            self._capture = None
