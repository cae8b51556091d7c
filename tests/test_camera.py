"""Camera back-ends: source parsing, the files: and opencv: cameras on real files, the fake."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.errors import CameraUnavailable, ConfigError
from appliance.hw.camera import Camera
from appliance.hw.fake import FakeCamera
from appliance.hw.files_camera import FilesCamera
from appliance.hw.opencv_camera import OpenCVCamera
from appliance.hw.picamera import PiCamera
from appliance.hw.sources import open_camera


def numbered_frames(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    """Frames whose mean grey level encodes their number (20, 40, 60, ...)."""
    return [np.full((size[1], size[0], 3), 20 * (i + 1), np.uint8) for i in range(n)]


def write_images(folder: Path, frames: list[np.ndarray], names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names, strict=True):
        assert cv2.imwrite(str(folder / name), frame)


def test_open_camera_parses_every_source(tmp_path: Path) -> None:
    assert isinstance(open_camera("picamera2"), PiCamera)
    cam = open_camera("opencv:2", warmup_s=0.5)
    assert isinstance(cam, OpenCVCamera) and cam.device == 2 and not cam.is_file
    video = open_camera(f"opencv:{tmp_path / 'clip.avi'}")
    assert isinstance(video, OpenCVCamera) and video.is_file
    files = open_camera(f"files:{tmp_path}")
    assert isinstance(files, FilesCamera) and files.folder == tmp_path
    for cam in (files, video):
        assert isinstance(cam, Camera)


@pytest.mark.parametrize("source", ["", "usb", "opencv:", "files:", "picamera", "Files:/x"])
def test_open_camera_rejects_bad_sources_in_one_line(source: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_camera(source)
    (problem,) = err.value.problems
    assert repr(source) in problem and "files:DIR" in problem and "\n" not in problem


def test_files_camera_loops_in_name_order_and_keeps_its_place(tmp_path: Path) -> None:
    frames = numbered_frames(3)
    # Written out of order, with a non-image file between them.
    write_images(tmp_path, [frames[2], frames[0], frames[1]], ["c.png", "a.png", "b.bmp"])
    (tmp_path / "notes.txt").write_text("not an image")
    camera = FilesCamera(tmp_path)
    with camera:
        got = [int(camera.capture().mean()) for _ in range(4)]
    assert got == [20, 40, 60, 20]
    with camera:  # the next check goes on where the last one stopped
        assert int(camera.capture().mean()) == 40
    assert not camera.is_open


def test_files_camera_gives_bgr_for_grey_images(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "grey.png"), np.full((30, 40), 77, np.uint8))
    with FilesCamera(tmp_path) as camera:
        frame = camera.capture()
    assert frame.shape == (30, 40, 3) and frame.dtype == np.uint8 and (frame == 77).all()


def test_files_camera_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="cannot list"):
        FilesCamera(tmp_path / "missing").open()
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(CameraUnavailable, match="no image files"):
        FilesCamera(tmp_path).open()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    camera = FilesCamera(tmp_path)
    with pytest.raises(CameraUnavailable, match="not open"):
        camera.capture()
    camera.open()
    with pytest.raises(CameraUnavailable, match=r"broken\.png"):
        camera.capture()
    camera.close()
    camera.close()  # idempotent


def test_opencv_camera_reads_a_video_file_loops_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build has no MJPG writer")
    for frame in numbered_frames(4):
        writer.write(frame)
    writer.release()
    camera = OpenCVCamera(str(path))
    with camera:
        got = [round(camera.capture().mean() / 20) for _ in range(3)]
    with camera:
        got += [round(camera.capture().mean() / 20) for _ in range(3)]
    assert got == [1, 2, 3, 4, 1, 2]
    camera.close()


def test_opencv_camera_that_cannot_open_is_unavailable(tmp_path: Path) -> None:
    camera = OpenCVCamera(str(tmp_path / "missing.avi"))
    with pytest.raises(CameraUnavailable, match="cannot open"):
        camera.open()
    with pytest.raises(CameraUnavailable, match="not open"):
        camera.capture()


def test_picamera_without_picamera2_says_how_to_install_it() -> None:
    pytest.importorskip("appliance.hw.picamera")
    try:
        import picamera2  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("picamera2 is installed here (a Pi): covered by hardware tests")
    camera = PiCamera(warmup_s=0)
    with pytest.raises(CameraUnavailable, match="apt install python3-picamera2"):
        camera.open()
    camera.close()


def test_fake_camera_returns_queued_frames_then_repeats_the_last() -> None:
    camera = FakeCamera()
    grey = np.full((4, 6), 9, np.uint8)
    camera.queue_frame(grey)
    camera.queue_frame(numbered_frames(1, (6, 4))[0])
    with pytest.raises(CameraUnavailable):
        camera.capture()  # closed
    with camera:
        assert camera.is_open
        first = camera.capture()
        assert first.shape == (4, 6, 3) and (first == 9).all()
        assert [int(camera.capture().mean()) for _ in range(3)] == [20, 20, 20]
    assert not camera.is_open and camera.opens == 1 and camera.captures == 4


def test_fake_camera_drives_error_paths() -> None:
    camera = FakeCamera()
    with camera, pytest.raises(CameraUnavailable, match="no frame queued"):
        camera.capture()
    camera.queue_error(OSError("sensor unplugged"))
    with camera, pytest.raises(OSError, match="unplugged"):
        camera.capture()
    camera.fail_open()
    with pytest.raises(CameraUnavailable):
        camera.open()
    assert not camera.is_open
    camera.open()  # only the next open fails
    camera.close()
    with pytest.raises(ValueError, match="uint8"):
        camera.queue_frame(np.zeros((4, 4), np.float32))


@pytest.mark.hardware
def test_pi_camera_gives_640x480_bgr_frames_and_stops() -> None:
    camera = PiCamera(warmup_s=1.0)
    with camera:
        frames = [camera.capture() for _ in range(3)]
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[-1].std() > 1  # a real image, not a blank buffer
    camera.close()
