"""The emotion classifier on the shipped model: contract checks, quantization, real faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from modelcopy import model_copy, shipped_contract

from appliance.errors import ModelError
from appliance.mood import runtime
from appliance.mood.classifier import DEFAULT_MODEL, EmotionClassifier, read_contract, softmax
from appliance.mood.crop import crop_face
from appliance.mood.faces import FaceDetector, find_model
from appliance.mood.reading import LABELS
from appliance.mood.reference import reference_faces, reference_problem

pytestmark = pytest.mark.runtime
CONTRACT = shipped_contract()


def test_quantize_and_dequantize_use_the_tensors_own_parameters() -> None:
    detail = {"dtype": np.int8, "quantization": (0.5, -3), "shape": [1, 2]}
    q = runtime.quantize(np.array([0.0, 1.0, 100.0, -100.0], np.float32), detail)
    assert q.dtype == np.int8 and q.tolist() == [-3, -1, 127, -128]
    back = runtime.dequantize(np.array([-3, -1], np.int8), detail)
    assert back.dtype == np.float32 and back.tolist() == [0.0, 1.0]
    floats = {"dtype": np.float32, "quantization": (0.0, 0)}
    assert runtime.quantize(np.array([0.25]), floats).tolist() == [0.25]


def test_softmax_normalises_logits() -> None:
    p = softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], np.float32))
    assert np.allclose(p.sum(axis=1), 1) and np.allclose(p[1], 1 / 3) and p[0].argmax() == 2


def test_probabilities_are_in_label_order_and_sum_to_one(classifier: EmotionClassifier) -> None:
    assert classifier.labels == tuple(CONTRACT["labels"])
    crop = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    p = classifier.classify(crop)
    assert p.shape == (len(LABELS),) and p.dtype == np.float32
    assert p.sum() == pytest.approx(1.0, abs=0.05) and (p >= 0).all()


def test_classifier_gives_the_exported_reference_answers_within_tolerance(
        classifier: EmotionClassifier) -> None:
    # Runtimes and CPUs differ by a few int8 steps (emotion.json, reference.measured): the
    # top class must match and each output stay within the contract's tolerance.
    recorded = np.array(CONTRACT["reference"]["int8_outputs"])
    got = np.array([classifier.raw_output(face) for face in reference_faces()])
    problem, _ = reference_problem(got, recorded, CONTRACT["reference"]["tolerance_steps"])
    assert problem == ""
    out = runtime.load_interpreter(DEFAULT_MODEL).get_output_details()[0]
    probabilities = np.array([classifier.classify(face) for face in reference_faces()])
    temperature = classifier.contract.temperature  # fitted on the Validation split, see the card
    assert 0.5 < temperature < 2
    assert np.allclose(probabilities, softmax(runtime.dequantize(got, out) / temperature),
                       atol=1e-6)


def test_the_network_reads_a_face_and_its_mirror_image_alike(
    classifier: EmotionClassifier, photos: dict, detector: FaceDetector
) -> None:
    # The export averages each face with its mirror inside the network; only int8 rounding
    # of the two branches (each quantized on its own scale) may tell a face from its mirror.
    # Measured: mean gap 0.008-0.011 for the shipped file, 0.08 for a plain export.
    gaps = []
    for photo in photos.values():
        for face in detector.detect(photo):
            crop = crop_face(photo, face, classifier.contract.crop)
            assert not np.array_equal(crop, cv2.flip(crop, 1))
            mirrored = classifier.classify(cv2.flip(crop, 1))
            gaps.append(np.abs(classifier.classify(crop) - mirrored).max())
    assert len(gaps) == 3 and np.mean(gaps) < 0.03


def test_smiling_astronaut_reads_happy(classifier: EmotionClassifier, photos: dict,
                                       detector: FaceDetector) -> None:
    (face,) = detector.detect(photos["astronaut"])
    p = dict(zip(classifier.labels, classifier.classify(
        crop_face(photos["astronaut"], face, classifier.contract.crop)), strict=True))
    # A decent model puts "happy" first, or at least far above chance (1/7).
    assert max(p, key=p.__getitem__) == "happy" or p["happy"] > 0.4


def test_a_crop_of_the_wrong_size_is_refused(classifier: EmotionClassifier) -> None:
    with pytest.raises(ValueError, match="48x48"):
        classifier.classify(np.zeros((48, 48, 3), np.uint8))


def test_missing_model_or_contract_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read the model contract"):
        EmotionClassifier(tmp_path / "none.tflite")
    (tmp_path / "none.json").write_text(json.dumps(CONTRACT))
    with pytest.raises(ModelError, match=r"none\.tflite: cannot read the model file"):
        EmotionClassifier(tmp_path / "none.tflite")


@pytest.mark.parametrize("keep", [0, 7, 20_000, 600_000, -1])
def test_corrupt_or_truncated_model_is_a_model_error(tmp_path: Path, keep: int) -> None:
    data = DEFAULT_MODEL.read_bytes()
    cut = data[:keep] if keep >= 0 else data[:100] + bytes(1000) + data[1100:]
    path = model_copy(tmp_path, model=cut)
    with pytest.raises(ModelError, match="SHA-256 differs"):
        EmotionClassifier(path)
    # Without a recorded checksum the structure check still stops it before the runtime
    # (tflite-runtime 2.14 crashed the process on a truncated model).
    path.with_suffix(".json").write_text(json.dumps(dict(CONTRACT, sha256="")))
    if keep >= 0:
        with pytest.raises(ModelError, match=r"emotion\.tflite: not a usable TFLite model"):
            EmotionClassifier(path)


def test_model_of_the_wrong_shape_is_a_model_error(tmp_path: Path) -> None:
    unchecked = dict(CONTRACT, sha256="")
    path = model_copy(tmp_path, unchecked, find_model().read_bytes())  # BlazeFace: 128x128x3
    with pytest.raises(ModelError, match=r"want one int8/uint8/float32 input \(1, 48, 48, 1\)"):
        EmotionClassifier(path)
    fewer = dict(CONTRACT, labels=CONTRACT["labels"][:6])  # the shipped file, checksum and all
    with pytest.raises(ModelError, match=r"output \(1, 6\)"):
        EmotionClassifier(model_copy(tmp_path, fewer))


@pytest.mark.parametrize(("change", "message"), [
    ({"labels": ["angry", "happy", "bored"]}, "labels must be distinct names"),
    ({"labels": ["happy", "happy"]}, "labels must be distinct names"),
    ({"input": {"height": 48, "width": 40, "channels": 1, "range": [0, 1]}}, "square grey"),
    ({"input": {"height": 48, "width": 48, "channels": 1, "range": [1, 0]}}, "lo < hi"),
    ({"input": {"height": 48}}, "not a valid model contract"),
    ({"output": {"kind": "embeddings"}}, "output.kind"),
    ({"crop": None}, 'no "crop" object'),
    ({"crop": {"detector": "haar", "scale": 1.2, "shift_y": 0, "align_eyes": True}},
     "crop.detector"),
    ({"crop": {"detector": "blazeface_short_range", "scale": "big", "shift_y": 0,
               "align_eyes": True}}, "needs numbers"),
    ({"crop": {"detector": "blazeface_short_range", "scale": 9, "shift_y": 0,
               "align_eyes": True}}, "out of range"),
])
def test_contract_errors_name_the_file_and_problem(tmp_path: Path, change: dict,
                                                   message: str) -> None:
    path = tmp_path / "emotion.json"
    path.write_text(json.dumps(dict(CONTRACT, **change)))
    with pytest.raises(ModelError, match=message) as err:
        read_contract(path)
    assert str(path) in str(err.value)
    path.write_text("{not json")
    with pytest.raises(ModelError, match="not a valid model contract"):
        read_contract(path)


def test_contract_crop_is_the_measured_fer2013_framing() -> None:
    crop = read_contract(DEFAULT_MODEL.with_suffix(".json")).crop
    # scripts/measure_crop.py geometry: box 40.5 of 48 px, centre 4 px below the frame's.
    assert 1.1 < crop.scale < 1.3 and -0.15 < crop.shift_y < -0.05 and crop.align_eyes


def test_structure_check_accepts_both_models_and_refuses_their_truncations() -> None:
    for path in (DEFAULT_MODEL, find_model()):
        data = path.read_bytes()
        assert runtime.flatbuffer_problem(data) == ""
        passing = [n for n in range(0, len(data), 1499) if not runtime.flatbuffer_problem(data[:n])]
        assert passing == [], path.name
    assert "TFL3" in runtime.flatbuffer_problem(b"\x00" * 64)
