"""``open_camera``: the camera back-end that a config's ``camera.source`` names."""

from __future__ import annotations

from pathlib import Path

from appliance.errors import ConfigError
from appliance.hw.camera import Camera

SOURCES_HINT = (
    'use "picamera2", "opencv:N" (webcam index N or a video file path) or "files:DIR" '
    "(a folder of images)"
)


def parse_size(text: str) -> tuple[int, int] | None:
    """``camera.size``: None for ``"auto"``, else ``(width, height)`` from ``"WxH"``.

    Raises:
        ValueError: neither (the message says what is wanted).
    """
    if text.strip().lower() == "auto":
        return None
    width, sep, height = text.lower().partition("x")
    if not sep or not width.strip().isdigit() or not height.strip().isdigit():
        raise ValueError(f'camera size {text!r}: want "auto" or WIDTHxHEIGHT, e.g. "1640x1232"')
    size = int(width), int(height)
    if not (32 <= size[0] <= 10000 and 32 <= size[1] <= 10000):
        raise ValueError(f"camera size {text!r}: each side must be 32..10000 pixels")
    return size


def open_camera(source: str, warmup_s: float = 0.0, size: tuple[int, int] | None = None,
                timeout_s: float = 2.0) -> Camera:
    """The (closed) camera that ``source`` names.

    Args:
        source: ``"picamera2"``, ``"opencv:N"`` or ``"opencv:PATH"``, or ``"files:DIR"``.
        warmup_s: seconds a live camera settles (auto exposure) in ``open()``.
        size: ``(width, height)`` asked of live cameras; None = the full-view mode
            (picamera2) or the largest mode (webcam).
        timeout_s: longest wait for one frame of the Pi camera.

    Raises:
        ConfigError: ``source`` is none of these (one problem naming it and the fix).
    """
    kind, _, arg = source.partition(":")
    if source == "picamera2":
        from appliance.hw.picamera import PiCamera

        return PiCamera(warmup_s=warmup_s, size=size, timeout_s=timeout_s)
    if kind == "opencv" and arg:
        from appliance.hw.opencv_camera import OpenCVCamera

        device: int | str = int(arg) if arg.isdigit() else arg
        return OpenCVCamera(device, warmup_s=warmup_s, size=size)
    if kind == "files" and arg:
        from appliance.hw.files_camera import FilesCamera

        return FilesCamera(Path(arg).expanduser())
    raise ConfigError([f"camera source {source!r} is not known; {SOURCES_HINT}"])
