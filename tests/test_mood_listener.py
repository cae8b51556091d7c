"""Room-scale checks: the listener followed across a burst spread over time, other people
counted but never read, crops skipped with a reason, valence and arousal, faces found in a
full-view frame at sofa distance. Real public-domain photos pasted into large frames."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from moodimages import FACE_BOXES

from appliance.config import parse_config
from appliance.hw.fake import FakeCamera, FakeClock
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.check import FaceReader, MoodChecker
from appliance.mood.faces import TILE_OVERLAP, Face, tile_boxes
from appliance.mood.listener import Gates, choose_listener, crop_problem, track_people, turn
from appliance.mood.reading import LABELS, NO_FACE

FULL_VIEW = (2304, 1296)


def face(x: float, y: float, w: float = 100.0, keypoints: tuple = ()) -> Face:
    return Face((x, y, w, w), 0.9, ((x + 0.3 * w, y + 0.4 * w), (x + 0.7 * w, y + 0.4 * w)),
                keypoints)


def paste(frame: np.ndarray, photo: np.ndarray, name: str, face_px: float,
          at: tuple[int, int]) -> None:
    """``photo`` scaled so its face is ``face_px`` wide, face centre at ``at``."""
    x, y, w, h = FACE_BOXES[name]
    scale = face_px / w
    matrix = np.float32([[scale, 0, at[0] - (x + w / 2) * scale],
                         [0, scale, at[1] - (y + h / 2) * scale]])
    mask = cv2.warpAffine(np.full(photo.shape[:2], 255, np.uint8), matrix,
                          (frame.shape[1], frame.shape[0]))
    warped = cv2.warpAffine(photo, matrix, (frame.shape[1], frame.shape[0]))
    frame[mask > 0] = warped[mask > 0]


def room(*people: tuple[np.ndarray, str, float, tuple[int, int]]) -> np.ndarray:
    frame = np.full((FULL_VIEW[1], FULL_VIEW[0], 3), 120, np.uint8)
    for photo, name, px, at in people:
        paste(frame, photo, name, px, at)
    return frame


# Pure functions --------------------------------------------------------------------------

def test_people_are_followed_by_position_across_frames() -> None:
    frames = [[face(100, 100), face(900, 120, 60)],
              [face(930, 110, 60), face(110, 95)],  # order swapped, both moved a little
              [face(105, 100)]]                     # the second person left
    tracks = track_people(frames)
    assert [[i for i, _ in t] for t in tracks] == [[0, 1, 2], [0, 1]]
    assert choose_listener(tracks, (1280, 720)) == 0  # larger


def test_a_central_face_beats_a_slightly_larger_one_at_the_edge() -> None:
    tracks = track_people([[face(0, 0, 110), face(590, 310, 100)]])
    assert choose_listener(tracks, (1280, 720)) == 1
    assert choose_listener([], (1280, 720)) is None


def test_tiles_cover_the_frame_in_overlapping_rows() -> None:
    tiles = tile_boxes(*FULL_VIEW, rows=2)
    side = tiles[0][2]
    assert side == round(1296 / (2 - TILE_OVERLAP))
    assert {y for _, y, _ in tiles} == {0, 1296 - side}
    xs = sorted({x for x, _, _ in tiles})
    assert xs[0] == 0 and xs[-1] == 2304 - side
    assert np.diff(xs).max() <= (1 - TILE_OVERLAP) * side + 1
    assert tile_boxes(*FULL_VIEW, rows=0) == []


@pytest.mark.parametrize(("size", "side"), [((2304, 1296), 768), ((1640, 1232), 768),
                                            ((2028, 1520), 960), ((1280, 720), 436)])
def test_tiles_of_whole_model_inputs_still_cover_the_frame_with_overlap(
        size: tuple[int, int], side: int) -> None:
    # Camera Module 3, v2 and HQ full views take a side of 4 or 5 inputs of 192 px; 1280x720
    # has none that overlaps 0.25-0.7 and keeps the exact side.
    tiles = tile_boxes(*size, rows=2, multiple=192)
    assert {s for _, _, s in tiles} == {side}
    ys = sorted({y for _, y, _ in tiles})
    xs = sorted({x for x, _, _ in tiles})
    assert ys == [0, size[1] - side] and xs[0] == 0 and xs[-1] == size[0] - side
    overlap = side - ys[1]
    assert 0.25 * side <= overlap <= 0.7 * side
    assert side - np.diff(xs).max() >= overlap - 1  # columns overlap at least as rows do


def test_crops_are_skipped_with_a_reason() -> None:
    gates = Gates(min_face_px=24, min_sharpness=20, max_turn=0.6)
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (48, 48), dtype=np.uint8)
    assert crop_problem(face(0, 0, 100), sharp, gates) is None
    assert "too small" in str(crop_problem(face(0, 0, 20), sharp, gates))
    flat = cv2.GaussianBlur(sharp, (0, 0), 4)
    assert "blurred" in str(crop_problem(face(0, 0, 100), flat, gates))
    # Right eye, left eye, nose, mouth, right ear, left ear: the left ear is hidden behind.
    profile = ((40, 40), (60, 40), (70, 60), (60, 75), (10, 45), (62, 45))
    assert turn(face(0, 0, 100, profile)) > 0.8
    assert "turned away" in str(crop_problem(face(0, 0, 100, profile), sharp, gates))
    frontal = ((35, 40), (65, 40), (50, 55), (50, 70), (15, 45), (85, 45))
    assert turn(face(0, 0, 100, frontal)) == pytest.approx(0)


def test_readings_carry_valence_and_arousal_from_the_circumplex() -> None:
    circumplex = parse_config({}).mood.circumplex
    probs = (0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0)  # half happy, half sad
    one = FaceReading(face(0, 0), probs, LABELS)
    r = aggregate([one], 1, 0.4, circumplex=circumplex)
    assert r.valence == pytest.approx((circumplex["happy"].valence
                                       + circumplex["sad"].valence) / 2)
    assert r.arousal == pytest.approx((circumplex["happy"].arousal
                                       + circumplex["sad"].arousal) / 2)
    none = aggregate([], 1, 0.4, circumplex=circumplex)
    assert none.valence is None and none.arousal is None


# The burst on a virtual clock ----------------------------------------------------------------

class TimedCamera(FakeCamera):
    """Notes the virtual time of each capture; each capture takes 30 ms."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def capture(self) -> np.ndarray:
        self.times.append(self.clock.now)
        self.clock.advance(0.03)
        return super().capture()


@pytest.mark.runtime
def test_the_burst_is_spread_over_burst_s(reader: FaceReader) -> None:
    clock = FakeClock(100.0)
    camera = TimedCamera(clock)
    camera.queue_frame(np.full((480, 640, 3), 90, np.uint8))
    with MoodChecker(camera, reader, frames=5, burst_s=2.0, clock=clock) as checker:
        r = checker.check()
    assert camera.times == pytest.approx([100.0, 100.5, 101.0, 101.5, 102.0])
    assert r.emotion == NO_FACE and r.frames == 5


# Real faces in full-view frames -------------------------------------------------------------

@pytest.fixture(scope="module")
def room_reader() -> FaceReader:
    """The detector and classifier as the shipped config sets them."""
    return FaceReader.from_config(parse_config({}))


@pytest.mark.runtime
@pytest.mark.parametrize("metres", [0.75, 2.0, 3.5])
def test_a_face_across_the_room_is_found_in_a_full_view_frame(
    photos: dict, room_reader: FaceReader, metres: float
) -> None:
    px = 284 / metres  # a 0.16 m face through Camera Module 3's lens at 2304 px
    frame = room((photos["astronaut"], "astronaut", px, (1500, 500)))
    found = room_reader.detect(frame)
    assert len(found) == 1
    x, y, w, _ = found[0].box
    assert abs(x + w / 2 - 1500) < 0.3 * px and abs(y + w / 2 - 500) < 0.3 * px
    assert 0.6 < w / px < 1.6


@pytest.mark.runtime
def test_other_people_do_not_outvote_the_listener(photos: dict, room_reader: FaceReader
                                                  ) -> None:
    listener = (photos["astronaut"], "astronaut", 140.0, (1152, 600))  # smiling, central
    # Grace Hopper twice, beside the listener and at the far edge (the cameraman's half
    # profile is found less reliably at this size).
    others = [(photos["grace_hopper"], "grace_hopper", 120.0, (350, 500)),
              (photos["grace_hopper"], "grace_hopper", 110.0, (2000, 700))]
    camera = FakeCamera()
    for dx in (0, 8, -6, 4):
        moved = (listener[0], listener[1], listener[2], (1152 + dx, 600))
        camera.queue_frame(room(moved, *others))
    clock = FakeClock()
    with MoodChecker(camera, room_reader, frames=4, burst_s=1.5, clock=clock,
                     circumplex=parse_config({}).mood.circumplex) as checker:
        r = checker.check()
    assert (r.faces, r.frame_faces, r.used + len(r.skipped)) == (3, 12, 4)
    alone = room_reader.read(room(listener))[0]
    assert r.probabilities["happy"] == pytest.approx(alone.as_dict()["happy"], abs=0.05)
    assert r.emotion in LABELS and r.valence is not None and -1 <= r.valence <= 1


@pytest.mark.runtime
def test_weak_candidates_need_short_range_to_confirm_them(photos: dict,
                                                          non_face_photos: dict) -> None:
    from appliance.mood.faces import FaceDetector

    cascade = FaceDetector(model="full_range_sparse", tiles=2, candidate_score=0.3)
    loose = FaceDetector(model="full_range_sparse", tiles=2, min_score=0.3)
    empty = [cv2.resize(image, FULL_VIEW) for image in non_face_photos.values()]
    assert sum(len(cascade.detect(frame)) for frame in empty) <= sum(
        len(loose.detect(frame)) for frame in empty)
    assert all(f.score >= 0.75 for frame in empty for f in cascade.detect(frame))
    (found,) = cascade.detect(room((photos["astronaut"], "astronaut", 95.0, (700, 400))))
    assert found.score >= 0.75 and abs(found.box[0] + found.box[2] / 2 - 700) < 30


@pytest.mark.runtime
def test_strong_candidates_must_be_found_again_by_short_range(photos: dict,
                                                              non_face_photos: dict) -> None:
    from appliance.mood.faces import FaceDetector

    settings = dict(model="full_range_sparse", tiles=2, candidate_score=0.5, confirm_score=0.85)
    frame = room((photos["astronaut"], "astronaut", 150.0, (900, 500)))
    (kept,) = FaceDetector(**settings, refind_score=0.7).detect(frame)  # type: ignore[arg-type]
    assert kept.score >= 0.7 and abs(kept.box[0] + kept.box[2] / 2 - 900) < 30
    # No short-range score reaches 0.9999 on this face, so the gate drops it: a strong
    # full-range candidate alone no longer makes a face.
    strict = FaceDetector(**settings, refind_score=0.9999)  # type: ignore[arg-type]
    assert strict.detect(frame) == []
    empty = [cv2.resize(image, FULL_VIEW) for image in non_face_photos.values()]
    gated = FaceDetector(**settings, refind_score=0.7)  # type: ignore[arg-type]
    plain = FaceDetector(**settings)  # type: ignore[arg-type]
    assert sum(len(gated.detect(f)) for f in empty) <= sum(len(plain.detect(f)) for f in empty)


@pytest.mark.runtime
def test_a_window_cut_from_the_shrunk_frame_boxes_the_face_as_the_full_frame_does(
        photos: dict) -> None:
    from appliance.mood.faces import FaceDetector

    frame = room((photos["astronaut"], "astronaut", 240.0, (1000, 600)))
    short = FaceDetector()
    (face,) = FaceDetector(model="full_range_sparse", tiles=2).detect(frame)
    small = cv2.resize(frame, (576, 324), interpolation=cv2.INTER_AREA)
    full, shrunk = short.refine(frame, face), short.refine(frame, face, small, 4.0)
    assert full is not None and shrunk is not None
    assert np.abs(np.subtract(full.box, shrunk.box)).max() < 0.05 * full.box[2]
    assert shrunk.score == pytest.approx(full.score, abs=0.05)
    assert short.refine(frame, face, np.zeros_like(small), 4.0) is None  # cut from small


@pytest.mark.runtime
@pytest.mark.parametrize(("px", "at"), [(240.0, (1000, 600)), (90.0, (2250, 300))])
def test_a_mirrored_refind_scores_the_mean_of_the_window_and_its_mirror_image(
        photos: dict, px: float, at: tuple[int, int]) -> None:
    import dataclasses

    from appliance.mood.faces import FaceDetector

    # Mid-frame, and at the right edge where the window is pushed back inside the frame.
    frame = room((photos["astronaut"], "astronaut", px, at))
    (face,) = FaceDetector(model="full_range_sparse", tiles=2).detect(frame)
    short = FaceDetector(min_score=0.05)
    plain, mean = short.refine(frame, face), short.refine(frame, face, mirror=True)
    x, y, w, h = face.box
    flipped = np.ascontiguousarray(frame[:, ::-1])
    twin = short.refine(flipped, dataclasses.replace(face, box=(2304 - x - w, y, w, h)))
    assert plain is not None and mean is not None and twin is not None
    assert mean.box == plain.box
    assert mean.score == pytest.approx((plain.score + twin.score) / 2, abs=0.02)


@pytest.mark.runtime
def test_a_near_candidate_passes_the_lower_near_gate_and_a_far_one_does_not(
        photos: dict) -> None:
    from appliance.mood.faces import NEAR_SHARE, FaceDetector

    settings = dict(model="full_range_sparse", tiles=2, candidate_score=0.5,
                    confirm_score=0.9999, refind_score=0.9999)
    gated = FaceDetector(**settings, near_score=0.7)  # type: ignore[arg-type]
    near = room((photos["astronaut"], "astronaut", 240.0, (900, 500)))
    far = room((photos["astronaut"], "astronaut", 100.0, (900, 500)))
    assert NEAR_SHARE * 2304 < 240 and NEAR_SHARE * 2304 > 100
    (kept,) = gated.detect(near)
    assert abs(kept.box[0] + kept.box[2] / 2 - 900) < 30 and kept.score >= 0.7
    assert gated.detect(far) == []  # no short-range score reaches 0.9999
    assert FaceDetector(**settings).detect(near) == []  # type: ignore[arg-type]
    loose = {**settings, "refind_score": 0.7}
    assert len(FaceDetector(**loose).detect(far)) == 1  # type: ignore[arg-type]


def _spans(detector: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The window span of every refine its short range runs from now on."""
    from appliance.mood.faces import WINDOW_SPAN

    fine, calls = detector._fine, []
    refine = fine.refine

    def counting(frame: np.ndarray, face: Any, small: Any = None, unit: float = 1.0,
                 mirror: bool = False, span: float = WINDOW_SPAN) -> Any:
        calls.append(span)
        return refine(frame, face, small, unit, mirror, span)

    monkeypatch.setattr(fine, "refine", counting)
    return calls


@pytest.mark.runtime
def test_a_dropped_candidate_gets_a_second_look_on_a_tighter_window(
        photos: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.mood.faces import SECOND_SPAN, FaceDetector

    settings = dict(model="full_range_sparse", tiles=2, candidate_score=0.5, mirror=True,
                    confirm_score=0.9999, refind_score=0.9999)
    frame = room((photos["astronaut"], "astronaut", 100.0, (900, 500)))
    assert FaceDetector(**settings).detect(frame) == []  # type: ignore[arg-type]
    # Both looks' mean is at most 1 and a 100 px face adds nothing for its width, so 1.01
    # can never pass, while 0 passes whatever short range sees from SECOND_FLOOR up.
    never = FaceDetector(**settings, second_score=1.01)  # type: ignore[arg-type]
    assert never.detect(frame) == []
    looks = FaceDetector(**settings, second_score=0.0)  # type: ignore[arg-type]
    spans = _spans(looks, monkeypatch)
    (kept,) = looks.detect(frame)
    assert abs(kept.box[0] + kept.box[2] / 2 - 900) < 30
    assert SECOND_SPAN in spans
    # A candidate the gates keep is never looked at twice: the second look costs only
    # where the first one left it unsure.
    loose_settings: dict[str, Any] = {**settings, "refind_score": 0.5, "confirm_score": 0.5}
    loose = FaceDetector(**loose_settings, second_score=0.0)
    loose_spans = _spans(loose, monkeypatch)
    assert len(loose.detect(frame)) == 1 and SECOND_SPAN not in loose_spans


@pytest.mark.runtime
def test_early_exit_skips_the_tiles_once_the_whole_frame_gives_a_face(photos: dict) -> None:
    from appliance.mood.faces import FaceDetector

    near, far = (photos["astronaut"], "astronaut", 400.0, (700, 650)), (
        photos["grace_hopper"], "grace_hopper", 95.0, (1900, 400))
    frame = room(near, far)
    settings = dict(model="full_range_sparse", tiles=2, candidate_score=0.5,
                    confirm_score=0.85)
    every = FaceDetector(**settings).detect(frame)  # type: ignore[arg-type]
    early = FaceDetector(**settings, early_exit=True).detect(frame)  # type: ignore[arg-type]
    assert len(every) == 2 and len(early) == 1
    assert abs(early[0].box[0] + early[0].box[2] / 2 - 700) < 60
    (alone,) = FaceDetector(**settings, early_exit=True).detect(  # type: ignore[arg-type]
        room(far))
    assert abs(alone.box[0] + alone.box[2] / 2 - 1900) < 30


@pytest.mark.runtime
def test_the_config_sets_the_detector_cascade() -> None:
    from appliance.mood.reader import detector_from_config

    default = detector_from_config(parse_config({}))
    assert (default.tiles, default.mirror, default.refind_score, default.near_score) == (
        2, True, 0.8, 0.7)
    plain = detector_from_config(parse_config({"mood": {"detect_mirror": False,
                                                        "min_refind_score": 0.7,
                                                        "min_second_look_score": 1.0}}))
    assert (plain.mirror, plain.refind_score, plain.second_score) == (False, 0.7, None)
    assert default.second_score == 0.775
