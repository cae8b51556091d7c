"""The Raspberry Pi camera through picamera2 (imported here only, and only when opened).

picamera2 comes from the Raspberry Pi apt archive (``python3-picamera2``, with libcamera);
the venv needs ``--system-site-packages`` to see it. It is never installed from pip.

One ``Picamera2`` object is made at the first check and kept: each check only starts and
stops it. Re-creating it per check tears the camera manager down and builds it again (with
about seven INFO lines from libcamera each time, see PLATFORM.md); the object is dropped and
made afresh only after an error. The sensor mode is chosen by field of view
(``choose_mode``): by default the binned mode that sees the whole sensor, e.g. 2304x1296 on
Camera Module 3, so a listener anywhere in the room is in the frame.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from appliance.errors import CameraUnavailable, ConfigError
from appliance.hw.camera import Camera

log = logging.getLogger(__name__)

_INSTALL_FIX = (
    "on Raspberry Pi OS: sudo apt install python3-picamera2, and make the venv with "
    "--system-site-packages"
)
#: libcamera's own log filter (read when libcamera is loaded): warnings and errors only, so
#: that a check does not write its stream configuration to the journal each time.
LIBCAMERA_LOG_LEVELS = "*:WARN"


def _fov(mode: Mapping[str, Any]) -> int:
    """Sensor area a mode sees (its crop limits' width x height)."""
    _, _, width, height = mode["crop_limits"]
    return int(width) * int(height)


def choose_mode(modes: Sequence[Mapping[str, Any]], size: tuple[int, int] | None
                ) -> Mapping[str, Any]:
    """The sensor mode for frames of ``size`` (None = "auto"), by field of view.

    Among the modes whose output is at least ``size`` (any, for "auto"), those that see the
    most of the sensor win; of those the smallest output (the binned mode: fast, and
    enough for faces across a room), then the deepest bit depth.

    Args:
        modes: ``Picamera2.sensor_modes``: dicts with ``size``, ``crop_limits``, ``bit_depth``.
        size: wanted ``(width, height)`` of the frames, or None for the full-view mode's own.

    Raises:
        ConfigError: no mode gives frames that large (the message lists what the sensor has).
    """
    fits = [m for m in modes
            if size is None or (m["size"][0] >= size[0] and m["size"][1] >= size[1])]
    if not fits:
        have = ", ".join(sorted({f"{m['size'][0]}x{m['size'][1]}" for m in modes}))
        raise ConfigError([f"camera.size {size[0]}x{size[1]} is larger than this sensor "
                           f"gives (its modes: {have}); use \"auto\" or a smaller size"
                           if size else "the camera reports no sensor modes"])
    widest = max(_fov(m) for m in fits)
    return min((m for m in fits if _fov(m) == widest),
               key=lambda m: (m["size"][0] * m["size"][1], -int(m.get("bit_depth", 0))))


class PiCamera(Camera):
    """The Pi camera module, started only for a check.

    Args:
        warmup_s: seconds for auto exposure and white balance to settle after start.
        size: ``(width, height)`` of the frames, or None ("auto") for the full-view mode's.
        timeout_s: longest wait for one frame before the camera counts as failed.
        sleep: the settling wait (injectable for tests).
    """

    def __init__(self, warmup_s: float = 1.0, size: tuple[int, int] | None = None,
                 timeout_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.warmup_s = warmup_s
        self.size = size
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._camera: Any = None
        self._started = False

    def open(self) -> None:
        """Starts the camera (made and configured at the first call) and waits ``warmup_s``.

        Raises:
            CameraUnavailable: picamera2 is missing, or no camera answers.
            ConfigError: ``size`` is larger than the sensor gives.
        """
        self.close()
        try:
            camera = self._camera or self._make()
            camera.start()
        except (CameraUnavailable, ConfigError):
            raise
        except Exception as exc:  # libcamera raises RuntimeError, IndexError (no camera), ...
            self.release()
            raise CameraUnavailable(f"Raspberry Pi camera: cannot start ({exc})") from exc
        self._started = True
        self._sleep(self.warmup_s)

    def _make(self) -> Any:
        os.environ.setdefault("LIBCAMERA_LOG_LEVELS", LIBCAMERA_LOG_LEVELS)
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraUnavailable(f"picamera2 is not importable ({exc}); {_INSTALL_FIX}") from exc
        logging.getLogger("picamera2").setLevel(logging.WARNING)
        camera = Picamera2()
        self._camera = camera
        try:
            mode = choose_mode(camera.sensor_modes, self.size)
            main = tuple(self.size or mode["size"])
            # picamera2's "RGB888" is stored B, G, R in memory: OpenCV's order.
            camera.configure(camera.create_video_configuration(
                main={"size": main, "format": "RGB888"},
                sensor={"output_size": tuple(mode["size"]), "bit_depth": mode["bit_depth"]},
                buffer_count=2,
            ))
        except BaseException:
            self.release()
            raise
        log.info("Raspberry Pi camera: %dx%d frames from the %dx%d sensor mode", *main,
                 *mode["size"])
        return camera

    def capture(self) -> np.ndarray:
        """One frame, BGR uint8.

        Raises:
            CameraUnavailable: the camera is closed, or gave no frame within ``timeout_s``.
        """
        if self._camera is None or not self._started:
            raise CameraUnavailable("Raspberry Pi camera is not open")
        try:
            frame = self._camera.capture_array("main", wait=self.timeout_s)
        except Exception as exc:  # TimeoutError after timeout_s, or libcamera's errors
            raise CameraUnavailable(f"Raspberry Pi camera: capture failed ({exc!r})") from exc
        return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        """Stops the camera (the object is kept for the next check); safe to call again.

        If stopping fails the camera is released for good, so that libcamera does not keep
        it acquired, and the next ``open()`` makes a new one.
        """
        if not self._started:
            return
        self._started = False
        try:
            self._camera.stop()
        except Exception as exc:  # closing must not hide the error that led here
            log.warning("Raspberry Pi camera: error while stopping: %s", exc)
            self.release()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """A ``with`` block is a one-off use (e.g. ``moodbox doctor``): release it all."""
        self.release()

    def release(self) -> None:
        """Stops and closes the ``Picamera2`` object; ``close()`` runs even if ``stop()``
        raises. Safe to call again."""
        camera, self._camera = self._camera, None
        self._started = False
        if camera is None:
            return
        try:
            camera.stop()
        except Exception as exc:
            log.warning("Raspberry Pi camera: error while stopping: %s", exc)
        finally:
            try:
                camera.close()
            except Exception as exc:
                log.warning("Raspberry Pi camera: error while closing: %s", exc)
