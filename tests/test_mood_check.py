"""The mood check end to end on the real models: camera and LED on only while capturing,
closed after errors, crops, aggregation, the files: camera, debug frames only on request."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from moodimages import in_frame

from appliance.config import parse_config
from appliance.errors import CameraUnavailable, ModelError
from appliance.hw.fake import FakeCamera
from appliance.hw.led import StatusLed
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.check import FaceReader, MoodChecker
from appliance.mood.crop import CropSpec, crop_face, crop_matrix
from appliance.mood.faces import Face
from appliance.mood.listener import choose_listener, track_people
from appliance.mood.reading import LABELS, NO_FACE, UNSURE

SPEC = CropSpec(scale=1.2, shift_y=-0.1, align_eyes=True)


def reading(probs: dict[str, float], side: float = 100, labels: tuple = LABELS) -> FaceReading:
    face = Face((0, 0, side, side), 0.9, ((30, 40), (70, 40)))
    return FaceReading(face, tuple(probs.get(label, 0.0) for label in labels), labels)


# Crop geometry -------------------------------------------------------------------------------

def test_crop_matrix_centres_scales_and_levels_the_eyes() -> None:
    face = Face((100, 200, 80, 80), 0.9, ((120, 220), (160, 243.1)))  # eye line at 30 degrees
    m = crop_matrix(face, SPEC)
    centre = m @ [140, 240 - 0.1 * 80, 1]
    assert np.allclose(centre, [24, 24])
    (lx, ly), (rx, ry) = (m @ [*eye, 1] for eye in face.eyes)
    assert ly == pytest.approx(ry, abs=0.01) and rx > lx
    assert np.hypot(*(m[:, :2] @ [80, 0])) == pytest.approx(48 / 1.2)  # box side -> 40 px


def test_crop_contract_reads_the_measured_numbers() -> None:
    spec = CropSpec.from_contract({"detector": "blazeface_short_range", "scale": 1.19,
                                   "shift_y": -0.1, "align_eyes": False}, 48, "x.json")
    assert spec == CropSpec(1.19, -0.1, False, 48)


@pytest.mark.runtime
def test_eye_alignment_undoes_a_tilted_head(photos: dict, reader: FaceReader) -> None:
    spec = reader.classifier.contract.crop
    upright, _ = in_frame(photos["astronaut"])
    tilted, _ = in_frame(photos["astronaut"], angle=20)
    (a,), (b,) = reader.detector.detect(upright), reader.detector.detect(tilted)
    base = crop_face(upright, a, spec).astype(float)
    aligned = np.abs(crop_face(tilted, b, spec) - base).mean()
    unaligned_spec = CropSpec(spec.scale, spec.shift_y, False)
    unaligned = np.abs(crop_face(tilted, b, unaligned_spec)
                       - crop_face(upright, a, unaligned_spec)).mean()
    assert aligned < 0.6 * unaligned


# Aggregation -----------------------------------------------------------------------------------

def test_no_faces_is_no_face() -> None:
    r = aggregate([], frames=5, min_confidence=0.4)
    assert (r.emotion, r.confidence, dict(r.probabilities), r.faces, r.frames) == (
        NO_FACE, 0.0, {}, 0, 5)
    assert not r.decided


def test_faces_are_weighted_by_size() -> None:
    near = reading({"happy": 0.9, "sad": 0.1}, side=200)  # 4x the area of the far face
    far = reading({"happy": 0.1, "sad": 0.9}, side=100)
    r = aggregate([far, near], frames=2, min_confidence=0.4)
    assert r.emotion == "happy" and r.faces == 2 and r.frames == 2
    assert r.confidence == pytest.approx((0.9 * 4 + 0.1) / 5)
    assert r.probabilities["sad"] == pytest.approx((0.1 * 4 + 0.9) / 5)
    assert list(r.probabilities) == list(LABELS)


def test_low_confidence_is_unsure_with_the_probabilities_kept() -> None:
    flat = {label: 1 / 7 for label in LABELS}
    r = aggregate([reading(flat), reading(flat)], frames=5, min_confidence=0.4)
    assert r.emotion == UNSURE and r.confidence == pytest.approx(1 / 7) and not r.decided
    assert sum(r.probabilities.values()) == pytest.approx(1)


def test_one_noisy_frame_does_not_decide() -> None:
    calm = [reading({"neutral": 0.7, "sad": 0.3}) for _ in range(4)]
    noisy = reading({"angry": 1.0})
    r = aggregate([*calm, noisy], frames=5, min_confidence=0.4)
    assert r.emotion == "neutral" and r.confidence == pytest.approx(0.56)


def test_model_label_order_is_mapped_to_labels_order() -> None:
    reverse = tuple(reversed(LABELS))
    r = aggregate([reading({"surprise": 0.8, "fear": 0.2}, labels=reverse)], 1, 0.4)
    assert r.emotion == "surprise" and r.probabilities["fear"] == pytest.approx(0.2)


# The check with a camera --------------------------------------------------------------------

class ProbedCamera(FakeCamera):
    """The package's fake camera, noting the LED pin each time it is used."""

    def __init__(self, pin: object) -> None:
        super().__init__()
        self.pin = pin
        self.led_seen: list[tuple[str, bool]] = []

    def open(self) -> None:
        self.led_seen.append(("open", bool(self.pin.state)))  # type: ignore[attr-defined]
        super().open()

    def capture(self) -> np.ndarray:
        self.led_seen.append(("capture", bool(self.pin.state)))  # type: ignore[attr-defined]
        return super().capture()

    def close(self) -> None:
        self.led_seen.append(("close", bool(self.pin.state)))  # type: ignore[attr-defined]
        super().close()


@pytest.fixture
def probed(mock_pins: object, reader: FaceReader) -> tuple[MoodChecker, ProbedCamera]:
    led = StatusLed(27)
    camera = ProbedCamera(mock_pins.pin(27))  # type: ignore[attr-defined]
    checker = MoodChecker(camera, reader, frames=3, min_confidence=0.4, led=led)
    yield checker, camera
    checker.close()
    led.close()


def led_states(mock_pins: object) -> list[bool]:
    return [bool(s.state) for s in mock_pins.pin(27).states]  # type: ignore[attr-defined]


@pytest.mark.runtime
def test_check_lights_the_led_exactly_while_the_camera_is_open(
    probed: tuple[MoodChecker, ProbedCamera], photos: dict, mock_pins: object
) -> None:
    checker, camera = probed
    camera.queue_frame(in_frame(photos["astronaut"])[0])
    events: list[tuple[bool, bool]] = []
    r = checker.check(on_camera=lambda on: events.append((on, camera.is_open)))
    assert (r.frames, r.faces, r.frame_faces, r.used) == (3, 1, 3, 3)
    assert r.emotion in (*LABELS, UNSURE)
    assert camera.led_seen == [("open", True), *[("capture", True)] * 3, ("close", True)]
    assert led_states(mock_pins) == [False, True, False] and not camera.is_open
    assert events == [(True, True), (False, False)]


@pytest.mark.runtime
def test_camera_is_closed_and_led_off_after_an_error_mid_check(
    probed: tuple[MoodChecker, ProbedCamera], photos: dict, mock_pins: object
) -> None:
    checker, camera = probed
    camera.queue_frame(in_frame(photos["astronaut"])[0])
    camera.queue_error(RuntimeError("sensor unplugged"))
    events: list[bool] = []
    with pytest.raises(CameraUnavailable, match="sensor unplugged"):
        checker.check(on_camera=events.append)
    assert not camera.is_open and [e for e, _ in camera.led_seen][-1] == "close"
    assert led_states(mock_pins) == [False, True, False] and events == [True, False]
    camera.queue_frame(in_frame(photos["astronaut"])[0])
    assert checker.check().used == 3  # the next check works again


@pytest.mark.runtime
def test_a_failing_on_camera_callback_is_not_blamed_on_the_camera(
    probed: tuple[MoodChecker, ProbedCamera], photos: dict, mock_pins: object
) -> None:
    checker, camera = probed
    camera.queue_frame(in_frame(photos["astronaut"])[0])

    def broken(on: bool) -> None:
        if on:
            raise KeyError("daemon bug")

    with pytest.raises(KeyError, match="daemon bug"):
        checker.check(on_camera=broken)
    assert not camera.is_open and led_states(mock_pins) == [False, True, False]


@pytest.mark.runtime
def test_camera_that_will_not_open_skips_the_check(
    probed: tuple[MoodChecker, ProbedCamera], mock_pins: object
) -> None:
    checker, camera = probed
    camera.fail_open()
    events: list[bool] = []
    with pytest.raises(CameraUnavailable):
        checker.check(on_camera=events.append)
    assert events == [] and not camera.is_open
    assert led_states(mock_pins) == [False, True, False]


@pytest.mark.runtime
def test_frames_without_a_face_read_no_face(reader: FaceReader,
                                            non_face_photos: dict) -> None:
    camera = FakeCamera()
    for image in non_face_photos.values():
        camera.queue_frame(in_frame(image)[0])
    with MoodChecker(camera, reader, frames=4) as checker:
        r = checker.check()
    assert (r.emotion, r.faces, r.frames) == (NO_FACE, 0, 4)


@pytest.mark.runtime
def test_only_the_listener_is_read_and_people_are_counted(reader: FaceReader,
                                                         photos: dict) -> None:
    left = in_frame(photos["astronaut"], 1.2, size=(320, 480))[0]
    right = in_frame(photos["grace_hopper"], 0.6, size=(320, 480))[0]
    camera = FakeCamera()
    camera.queue_frame(np.hstack([left, right]))
    with MoodChecker(camera, reader, frames=2) as checker:
        r = checker.check()
    assert (r.faces, r.frame_faces, r.used, r.frames) == (2, 4, 2, 2)
    readings = reader.read(np.hstack([left, right]))
    assert sorted(round(fr.face.box[0] // 320) for fr in readings) == [0, 1]  # one each side
    tracks = track_people([[fr.face for fr in readings]])
    chosen = tracks[choose_listener(tracks, (640, 480)) or 0][0][1]
    (listener,) = [fr for fr in readings if fr.face == chosen]
    other = next(fr for fr in readings if fr.face != chosen)
    # The second frame's crop comes from following the face (a re-boxed crop): close to the
    # first frame's reading, not a mix with the other person's.
    gap = abs(listener.as_dict()["happy"] - other.as_dict()["happy"])
    assert abs(r.probabilities["happy"] - listener.as_dict()["happy"]) < max(0.1, gap / 3)


@pytest.mark.runtime
def test_files_camera_end_to_end_from_config(tmp_path: Path, photo_paths: dict,
                                             mock_pins: object) -> None:
    pics = tmp_path / "pics"
    pics.mkdir()
    for name, path in photo_paths.items():
        (pics / f"{name}{path.suffix}").write_bytes(path.read_bytes())
    config = parse_config({"camera": {"source": f"files:{pics}", "frames": 3, "warmup_s": 0.0},
                           "gpio": {"pin_factory": "mock"}})
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with MoodChecker.from_config(config) as checker:
            r = checker.check()
    finally:
        os.chdir(cwd)
    # Three photos, one face each, near the same place: followed as one person.
    assert (r.frames, r.frame_faces, r.faces) == (3, 3, 1)
    assert r.emotion in (*LABELS, UNSURE)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        f"{name}{path.suffix}" for name, path in photo_paths.items())  # nothing written
    assert led_states(mock_pins) == [False, True, False]


@pytest.mark.runtime
def test_debug_dir_gets_the_frames_and_crops(tmp_path: Path, reader: FaceReader,
                                             photos: dict) -> None:
    camera = FakeCamera()
    camera.queue_frame(in_frame(photos["astronaut"])[0])
    with MoodChecker(camera, reader, frames=2, debug_dir=tmp_path / "debug") as checker:
        r = checker.check()
    (folder,) = (tmp_path / "debug").iterdir()
    names = sorted(p.name for p in folder.iterdir())
    crops = [n for n in names if "-face" in n]
    assert set(names) - set(crops) == {"frame0.png", "frame1.png", "reading.json"}
    assert len(crops) == r.used == 2
    assert cv2.imread(str(folder / crops[0])).shape == (48, 48, 3)
    summary = json.loads((folder / "reading.json").read_text())
    assert summary["emotion"] == r.emotion and len(summary["faces"]) == 2
    assert cv2.imread(str(folder / "frame1.png")).shape == (480, 640, 3)


@pytest.mark.runtime
def test_from_config_with_a_missing_model_is_a_model_error(tmp_path: Path) -> None:
    config = parse_config({"mood": {"model": str(tmp_path / "gone.tflite")},
                           "camera": {"led_pin": -1}})
    with pytest.raises(ModelError, match="gone"):
        MoodChecker.from_config(config)

