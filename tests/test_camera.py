"""Camera back-ends: source parsing, the files: and opencv: cameras on real files, the fake,
the Pi camera's sensor-mode choice and its lifecycle over a stand-in picamera2."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from appliance.errors import CameraUnavailable, ConfigError
from appliance.hw.camera import Camera
from appliance.hw.fake import FakeCamera
from appliance.hw.files_camera import FilesCamera
from appliance.hw.opencv_camera import OpenCVCamera
from appliance.hw.picamera import PiCamera, choose_mode
from appliance.hw.sources import open_camera, parse_size


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
    camera = PiCamera(warmup_s=1.0, size=(640, 480))
    with camera:
        frames = [camera.capture() for _ in range(3)]
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[-1].std() > 1  # a real image, not a blank buffer
    camera.release()


# Sensor modes as picamera2's ``Picamera2.sensor_modes`` reports them (10-bit and 8-bit
# lists abridged to size, crop_limits, bit_depth). Camera Module 3 (imx708) and the HQ camera
# (imx477) from ``rpicam-hello --list-cameras`` as quoted in raspberrypi/picamera2 issues
# #1184 and #301; Camera Module v2 (imx219) from ``sensor_modes`` in issue #683.
IMX708 = [
    {"size": (1536, 864), "crop_limits": (768, 432, 3072, 1728), "bit_depth": 10},
    {"size": (2304, 1296), "crop_limits": (0, 0, 4608, 2592), "bit_depth": 10},
    {"size": (4608, 2592), "crop_limits": (0, 0, 4608, 2592), "bit_depth": 10},
]
IMX219 = [
    {"size": (640, 480), "crop_limits": (1000, 752, 1280, 960), "bit_depth": 10},
    {"size": (1640, 1232), "crop_limits": (0, 0, 3280, 2464), "bit_depth": 10},
    {"size": (1920, 1080), "crop_limits": (680, 692, 1920, 1080), "bit_depth": 10},
    {"size": (3280, 2464), "crop_limits": (0, 0, 3280, 2464), "bit_depth": 10},
    {"size": (640, 480), "crop_limits": (1000, 752, 1280, 960), "bit_depth": 8},
    {"size": (1640, 1232), "crop_limits": (0, 0, 3280, 2464), "bit_depth": 8},
    {"size": (1920, 1080), "crop_limits": (680, 692, 1920, 1080), "bit_depth": 8},
    {"size": (3280, 2464), "crop_limits": (0, 0, 3280, 2464), "bit_depth": 8},
]
IMX477 = [
    {"size": (1332, 990), "crop_limits": (696, 528, 2664, 1980), "bit_depth": 10},
    {"size": (2028, 1080), "crop_limits": (0, 440, 4056, 2160), "bit_depth": 12},
    {"size": (2028, 1520), "crop_limits": (0, 0, 4056, 3040), "bit_depth": 12},
    {"size": (4056, 3040), "crop_limits": (0, 0, 4056, 3040), "bit_depth": 12},
]


@pytest.mark.parametrize(("modes", "size", "want"), [
    (IMX708, None, ((2304, 1296), 10)),
    (IMX219, None, ((1640, 1232), 10)),
    (IMX477, None, ((2028, 1520), 12)),
    (IMX708, (640, 480), ((2304, 1296), 10)),   # scaled from the full view, not cropped
    (IMX219, (1920, 1080), ((3280, 2464), 10)),  # the 1080p mode crops: full view instead
    (IMX708, (4608, 2592), ((4608, 2592), 10)),
    (IMX477, (1332, 990), ((2028, 1520), 12)),
])
def test_sensor_mode_is_chosen_by_field_of_view(modes: list, size: tuple | None,
                                                 want: tuple) -> None:
    mode = choose_mode(modes, size)
    assert (mode["size"], mode["bit_depth"]) == want


def test_a_size_the_sensor_cannot_give_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"5000x4000 .* 1640x1232, 1920x1080, 3280x2464"):
        choose_mode(IMX219, (5000, 4000))


def test_camera_size_parses_auto_and_width_x_height() -> None:
    assert parse_size("auto") is None and parse_size("1640x1232") == (1640, 1232)
    for bad in ("big", "640", "0x480", "640x"):
        with pytest.raises(ValueError, match="camera size"):
            parse_size(bad)


class FakePicamera2:
    """Stands in for ``picamera2.Picamera2``: records calls; stop() can be made to fail."""

    made: ClassVar[list[FakePicamera2]] = []

    def __init__(self) -> None:
        self.sensor_modes = IMX708
        self.calls: list[str] = []
        self.fail_stop = False
        self.frame = np.zeros((1296, 2304, 3), np.uint8)
        FakePicamera2.made.append(self)

    def create_video_configuration(self, **kwargs: object) -> dict:
        return kwargs

    def configure(self, config: dict) -> None:
        self.config = config
        self.calls.append("configure")

    def start(self) -> None:
        self.calls.append("start")

    def capture_array(self, name: str, wait: float | None = None) -> np.ndarray:
        self.calls.append(f"capture {name} wait={wait}")
        return self.frame

    def stop(self) -> None:
        self.calls.append("stop")
        if self.fail_stop:
            raise RuntimeError("stop failed")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.delenv("LIBCAMERA_LOG_LEVELS", raising=False)
    FakePicamera2.made = []
    return FakePicamera2


def test_pi_camera_keeps_one_object_and_starts_it_per_check(fake_picamera2: type) -> None:
    waits: list[float] = []
    camera = PiCamera(warmup_s=1.5, timeout_s=2.5, sleep=waits.append)
    for _ in range(2):
        camera.open()
        assert camera.capture().shape == (1296, 2304, 3)
        camera.close()
    (made,) = fake_picamera2.made
    check = ["start", "capture main wait=2.5", "stop"]
    assert made.calls == ["configure", *check, *check]
    assert made.config["main"] == {"size": (2304, 1296), "format": "RGB888"}
    assert made.config["sensor"] == {"output_size": (2304, 1296), "bit_depth": 10}
    assert waits == [1.5, 1.5] and os.environ["LIBCAMERA_LOG_LEVELS"] == "*:WARN"
    camera.release()
    assert made.calls[-2:] == ["stop", "close"]


def test_pi_camera_closes_even_when_stop_raises(fake_picamera2: type) -> None:
    camera = PiCamera(warmup_s=0, sleep=lambda s: None)
    camera.open()
    fake_picamera2.made[0].fail_stop = True
    camera.close()  # logged, and the object released so libcamera lets the camera go
    assert fake_picamera2.made[0].calls[-2:] == ["stop", "close"]
    with pytest.raises(CameraUnavailable, match="not open"):
        camera.capture()
    camera.open()  # a new object next time
    assert len(fake_picamera2.made) == 2
    fake_picamera2.made[1].fail_stop = True
    camera.release()
    assert fake_picamera2.made[1].calls[-2:] == ["stop", "close"]


def test_pi_camera_timeout_is_camera_unavailable(fake_picamera2: type) -> None:
    camera = PiCamera(warmup_s=0, sleep=lambda s: None)
    camera.open()

    def hang(name: str, wait: float | None = None) -> np.ndarray:
        raise TimeoutError

    fake_picamera2.made[0].capture_array = hang  # type: ignore[method-assign]
    with pytest.raises(CameraUnavailable, match="capture failed"):
        camera.capture()
    camera.release()
