"""The camera port: a small protocol, and ``open_camera`` that picks a back-end by name.

Back-ends: ``picamera2`` (the Raspberry Pi camera), ``opencv:N`` (webcam N, or a video file
through OpenCV), ``files:DIR`` (the images of a folder in name order, looping) and, for tests
and the simulated appliance, ``FakeCamera`` in ``appliance.hw.fake``. A camera object is made
closed; ``open()`` starts it (and waits for auto exposure where the hardware needs it),
``capture()`` returns one BGR uint8 frame, ``close()`` stops it and may be called again.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np

from appliance.errors import ConfigError

SOURCES_HINT = (
    'use "picamera2", "opencv:N" (webcam index N or a video file path) or "files:DIR" '
    "(a folder of images)"
)


@runtime_checkable
class Camera(Protocol):
    """A camera that is switched on only while it is used.

    Back-ends subclass this to inherit the context manager. Errors are ``CameraUnavailable``.
    """

    def open(self) -> None:
        """Switches the camera on; frames can be captured until ``close()``."""
        ...

    def capture(self) -> np.ndarray:
        """One frame, BGR uint8 of shape (height, width, 3)."""
        ...

    def close(self) -> None:
        """Switches the camera off; safe to call when it is already closed."""
        ...

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_camera(source: str, warmup_s: float = 0.0, size: tuple[int, int] = (640, 480)) -> Camera:
    """The (closed) camera that ``source`` names.

    Args:
        source: ``"picamera2"``, ``"opencv:N"`` or ``"opencv:PATH"``, or ``"files:DIR"``.
        warmup_s: seconds a live camera settles (auto exposure) in ``open()``.
        size: ``(width, height)`` asked of live cameras.

    Raises:
        ConfigError: ``source`` is none of these (one problem naming it and the fix).
    """
    kind, _, arg = source.partition(":")
    if source == "picamera2":
        from appliance.hw.picamera import PiCamera

        return PiCamera(warmup_s=warmup_s, size=size)
    if kind == "opencv" and arg:
        from appliance.hw.opencv_camera import OpenCVCamera

        device: int | str = int(arg) if arg.isdigit() else arg
        return OpenCVCamera(device, warmup_s=warmup_s, size=size)
    if kind == "files" and arg:
        from appliance.hw.files_camera import FilesCamera

        return FilesCamera(Path(arg).expanduser())
    raise ConfigError([f"camera source {source!r} is not known; {SOURCES_HINT}"])
