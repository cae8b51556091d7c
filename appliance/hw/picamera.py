"""The Raspberry Pi camera through picamera2 (imported here only, and only when opened).

picamera2 comes from the Raspberry Pi apt archive (``python3-picamera2``, with libcamera);
the venv needs ``--system-site-packages`` to see it. It is never installed from pip.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from appliance.errors import CameraUnavailable
from appliance.hw.camera import Camera

log = logging.getLogger(__name__)

_INSTALL_FIX = (
    "on Raspberry Pi OS: sudo apt install python3-picamera2, and make the venv with "
    "--system-site-packages"
)


class PiCamera(Camera):
    """The Pi camera module, started only for a check.

    Args:
        warmup_s: seconds for auto exposure and white balance to settle after start.
        size: ``(width, height)`` of the frames.
    """

    def __init__(self, warmup_s: float = 1.0, size: tuple[int, int] = (640, 480)) -> None:
        self.warmup_s = warmup_s
        self.size = size
        self._camera: Any = None

    def open(self) -> None:
        """Starts the camera and waits ``warmup_s``.

        Raises:
            CameraUnavailable: picamera2 is missing, or no camera answers.
        """
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraUnavailable(f"picamera2 is not importable ({exc}); {_INSTALL_FIX}") from exc
        self.close()
        try:
            camera = Picamera2()
            self._camera = camera
            # picamera2's "RGB888" is stored B, G, R in memory: OpenCV's order.
            config = camera.create_video_configuration(
                main={"size": self.size, "format": "RGB888"}
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera raises RuntimeError, IndexError (no camera), ...
            self.close()
            raise CameraUnavailable(f"Raspberry Pi camera: cannot start ({exc})") from exc
        time.sleep(self.warmup_s)

    def capture(self) -> np.ndarray:
        """One frame, BGR uint8.

        Raises:
            CameraUnavailable: the camera is closed or stopped delivering.
        """
        if self._camera is None:
            raise CameraUnavailable("Raspberry Pi camera is not open")
        try:
            frame = self._camera.capture_array("main")
        except Exception as exc:
            raise CameraUnavailable(f"Raspberry Pi camera: capture failed ({exc})") from exc
        return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        """Stops and releases the camera; safe to call again."""
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            camera.stop()
            camera.close()
        except Exception as exc:  # closing must not hide the error that led here
            log.warning("Raspberry Pi camera: error while closing: %s", exc)
