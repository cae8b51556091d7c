"""``open_camera``: the camera back-end that a config's ``camera.source`` names."""

from __future__ import annotations

from pathlib import Path

from appliance.errors import ConfigError
from appliance.hw.camera import Camera

SOURCES_HINT = (
    'use "picamera2", "opencv:N" (webcam index N or a video file path) or "files:DIR" '
    "(a folder of images)"
)



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
