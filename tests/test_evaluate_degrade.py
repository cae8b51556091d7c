"""The robustness suite (``scripts/degrade.py``) and ``scripts/evaluate.py`` on synthetic data.

No FER2013 image is used: the faces are smooth random patterns, and the model is the shipped
one run through the appliance's own classifier.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import degrade  # noqa: E402
import evaluate  # noqa: E402
import ferdata  # noqa: E402

MODEL = ROOT / "models" / "emotion.tflite"


def faces(count: int, seed: int = 0) -> np.ndarray:
    """Smooth grey 48x48 patterns (a blurred random field), so blur and scale have an effect."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(128, 60, (count, 48, 48)).astype(np.float32)
    return np.stack([np.clip(cv2.GaussianBlur(f, (0, 0), 1.2), 0, 255).astype(np.uint8)
                     for f in noise])


def test_the_distance_mapping_follows_the_documented_geometry() -> None:
    # 1.186 crop sides per face, 284/d px face at 2304 px, the appliance's 640 px frame.
    assert [round(degrade.crop_pixels(d)) for d in (1, 2, 3, 4)] == [94, 47, 31, 23]
    assert degrade.crop_pixels(4, frame_width=2304) > 48  # no loss in a full-resolution frame
    face = faces(1)[0]
    assert np.array_equal(degrade.resample(face, 94), face)
    far = degrade.resample(face, 23)
    assert far.shape == face.shape and far.dtype == np.uint8
    # Shrunk to 23 px and back: the finest detail is gone, the mean brightness is kept.
    assert abs(float(far.mean()) - float(face.mean())) < 2
    assert np.abs(np.diff(far.astype(int), axis=1)).mean() < np.abs(
        np.diff(face.astype(int), axis=1)).mean()


def test_every_condition_is_deterministic_and_keeps_the_face_format() -> None:
    batch = faces(6)
    names = [c.name for c in degrade.SUITE]
    assert len(names) == len(set(names)) == 18
    for condition in degrade.SUITE:
        once = degrade.apply_condition(condition, batch, seed=3)
        again = degrade.apply_condition(condition, batch, seed=3)
        assert once.shape == batch.shape and once.dtype == np.uint8, condition.name
        assert np.array_equal(once, again), condition.name
        changed = not np.array_equal(once, batch)
        assert changed == ("no loss" not in condition.name), condition.name
    noise = next(c for c in degrade.SUITE if c.name == "sensor noise sigma 10")
    assert not np.array_equal(degrade.apply_condition(noise, batch, 3),
                               degrade.apply_condition(noise, batch, 4))


def test_the_single_degradations_do_what_they_say() -> None:
    face = np.full((48, 48), 100, np.uint8)
    rng = np.random.default_rng(0)
    assert abs(float(degrade.add_noise(face, 10, rng).std()) - 10) < 1
    assert degrade.apply_gamma(face, 0.6).mean() > 100 > degrade.apply_gamma(face, 1.6).mean()
    lit = degrade.side_light(face, 0.4, from_left=True)
    assert lit[:, 0].mean() == 100 and lit[:, -1].mean() == 40
    assert np.array_equal(degrade.side_light(face, 0.4, from_left=False), lit[:, ::-1])
    pattern = faces(1)[0]
    assert degrade.blur(pattern, 3).std() < degrade.blur(pattern, 1).std() < pattern.std()
    assert np.abs(degrade.jpeg(pattern, 70).astype(int) - pattern).mean() < 8
    assert np.array_equal(degrade.roll(pattern, 0), pattern)
    # Yaw squeezes the face horizontally: a centred vertical bar gets narrower, not shorter.
    bar = np.zeros((48, 48), np.uint8)
    bar[:, 16:32] = 255
    turned = degrade.yaw(bar, 20)
    assert 12 <= int((turned[24] > 127).sum()) < 16
    assert np.abs(degrade.yaw(bar, -20).astype(int) - turned[:, ::-1]).max() <= 1


def test_degrade_some_touches_about_the_given_share() -> None:
    batch = np.repeat(faces(1), 400, axis=0)
    out = degrade.degrade_some(batch, 0.5, np.random.default_rng(1))
    changed = np.array([not np.array_equal(a, b) for a, b in zip(out, batch, strict=True)])
    assert 0.35 < changed.mean() < 0.6  # some degradations (1 m) leave a face as it was
    assert np.array_equal(degrade.degrade_some(batch, 0.0, np.random.default_rng(1)), batch)


def write_npz(path: Path) -> None:
    """A project-format npz of synthetic faces: 140 Training rows (3 copies of PublicTest
    faces among them) and 21 PublicTest rows."""
    train, test = faces(140, seed=1), faces(21, seed=2)
    train[[5, 50, 90]] = test[[0, 1, 2]]
    labels = np.concatenate([np.arange(140) % 7, np.arange(21) % 7]).astype(np.int8)
    np.savez(path, images=np.concatenate([train, test]), labels=labels,
             usage=np.repeat([0, 1], [140, 21]).astype(np.uint8),
             usage_names=np.array(ferdata.SPLITS),
             ferplus_votes=np.full((161, 10), -1, np.int8))


@pytest.mark.runtime
def test_evaluate_scores_the_splits_and_the_suite_and_logs_one_record(tmp_path: Path) -> None:
    data = tmp_path / "faces.npz"
    write_npz(data)
    log = tmp_path / "runs.jsonl"
    # --xnnpack: the suite goes through the classifier, which runs the default kernels, and its
    # clean row must equal the plain score on the same kernels (the built-in ones may differ
    # by a step, enough to change a face).
    args = [str(MODEL), "--data", str(data), "--split", "Validation", "PublicTest",
            "--degrade", "--seed", "0", "--log", str(log), "--xnnpack"]
    assert evaluate.main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert evaluate.main([*args, "--json", str(tmp_path / "b.json")]) == 0
    first = json.loads((tmp_path / "a.json").read_text())
    second = json.loads((tmp_path / "b.json").read_text())
    for result in (*first.values(), *second.values()):
        result.pop("median_ms", None)  # the only figure that is not repeatable
    assert first == second  # seeded: repeatable
    assert first["Validation"]["faces"] == 14  # 10% of the 137 Training faces left
    assert first["PublicTest"]["training_copies"]["faces_with_copy"] == 3
    rows = first["PublicTest_degrade"]["rows"]
    assert rows[0]["condition"] == "clean" and len(rows) == 2 + len(degrade.SUITE)
    assert rows[0]["accuracy"] == first["PublicTest"]["accuracy"]  # classifier = evaluate
    assert rows[-1]["accuracy"] == pytest.approx(
        np.mean([r["accuracy"] for r in rows[1:-1]]), abs=1e-4)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 and records[0]["kind"] == "measurement"
    assert {"validation", "publictest", "publictest_degrade"} <= set(records[0])
    assert records[0]["settings"]["sha256"] == json.loads(
        MODEL.with_suffix(".json").read_text())["sha256"]
