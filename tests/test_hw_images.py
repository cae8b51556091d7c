"""Photos are read within a memory bound: sizes from the header, big JPEGs decoded reduced."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.errors import CameraUnavailable
from appliance.hw.files_camera import FilesCamera
from appliance.hw.images import image_size, read_image


def _photo(height: int = 480, width: int = 640) -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (9, 9), 3)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".webp"])
def test_the_header_gives_the_size(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"photo{suffix}"
    assert cv2.imwrite(str(path), _photo(300, 500))
    assert image_size(path.read_bytes()) == (500, 300)
    assert read_image(path).shape == (300, 500, 3)


def test_a_large_jpeg_is_decoded_at_a_reduced_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    assert cv2.imwrite(str(path), _photo())
    assert read_image(path, max_pixels=100_000).shape == (240, 320, 3)  # 1/2: 76,800 pixels
    assert read_image(path, max_pixels=10_000).shape == (60, 80, 3)  # 1/8


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


def test_a_huge_png_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    # The header of a 20000x20000 photo: decoding it would take 1.2 GB.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(20000, 20000) + b"\0" * 100)
    with pytest.raises(CameraUnavailable) as error:
        read_image(path)
    message = str(error.value)
    assert "20000x20000 pixels is more than the 48 MP" in message and "\n" not in message


def test_the_files_camera_says_which_photo_is_too_large(tmp_path: Path) -> None:
    (tmp_path / "huge.png").write_bytes(_png_header(20000, 20000))
    with FilesCamera(tmp_path) as camera, pytest.raises(CameraUnavailable, match=r"huge\.png"):
        camera.capture()


def test_unreadable_and_undecodable_files_say_so(tmp_path: Path) -> None:
    (tmp_path / "noise.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(CameraUnavailable, match="not an image OpenCV can decode"):
        read_image(tmp_path / "noise.jpg")
    with pytest.raises(CameraUnavailable, match="cannot read the file"):
        read_image(tmp_path / "missing.png")
