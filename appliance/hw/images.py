"""Reading a photo from a file within a memory bound: ``read_image``.

A 20000x20000 photo decodes to 1.2 GB of pixels, more than a Raspberry Pi with 1-2 GB can
give. So the size is read from the file's header first (JPEG, PNG, BMP, WebP): a JPEG larger
than ``MAX_PIXELS`` is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg itself (the full image
never exists in memory), any other format that large is refused with the reason.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from appliance.errors import CameraUnavailable

#: The most pixels a photo is decoded at: 48 MP, four times the largest camera mode
#: (the HQ camera's 4056x3040), about 140 MB as BGR.
MAX_PIXELS = 48_000_000

_REDUCED = ((1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2),
            (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The photo at ``path`` as BGR uint8, never decoded at more than ``max_pixels``.

    Raises:
        CameraUnavailable: the file cannot be read, is not an image OpenCV can decode, or is
            too large to decode within the bound (the message says which, in one line).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CameraUnavailable(f"{path}: cannot read the file ({exc.strerror})") from exc
    flag = _decode_flag(data, max_pixels, path)
    # imdecode rather than imread: imread logs its own warning lines on a bad file.
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), flag) if data else None
    if frame is None or not frame.size:
        raise CameraUnavailable(
            f"{path}: not an image OpenCV can decode (corrupt or unknown format)")
    return frame


def _decode_flag(data: bytes, max_pixels: int, path: Path) -> int:
    """The ``imdecode`` flag that keeps the decoded image within ``max_pixels``."""
    size = image_size(data)
    if size is None or size[0] * size[1] <= max_pixels:
        return cv2.IMREAD_COLOR
    width, height = size
    if data[:2] == b"\xff\xd8":  # JPEG: libjpeg decodes at a fraction of the size
        for scale, flag in _REDUCED:
            if (width // scale) * (height // scale) <= max_pixels:
                return flag
    raise CameraUnavailable(
        f"{path}: {width}x{height} pixels is more than the {max_pixels // 1_000_000} MP a photo "
        "is read at; scale it down (or save it as JPEG, which is read at a reduced size)")


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG, PNG, BMP or WebP header, or ``None`` if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return (int.from_bytes(data[24:27], "little") + 1,
                int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The frame size from the first SOF marker, walking the segments from the start."""
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        # SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None
