"""Smoke run of the training pipeline: train.py then export_tflite.py on a tiny Kaggle CSV.

Runs in the training environment only (``.venv-train``, ``-m training``), since TensorFlow is
not part of the appliance. The faces are synthetic, so no FER2013 image is needed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakefaces import write_kaggle_csv

pytestmark = pytest.mark.training
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def run(script: str, *args: str) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_train_then_export_on_a_kaggle_csv(tmp_path: Path) -> None:
    data = tmp_path / "fer2013.csv"
    write_kaggle_csv(data, {"Training": 448, "PublicTest": 70, "PrivateTest": 7})
    out = tmp_path / "train"
    run("train.py", "--data", str(data), "--out", str(out), "--epochs", "2",
        "--widths", "8,16,16,16", "--dense", "16", "--batch", "32")
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 1 and runs[0]["settings"]["epochs"] == 2
    # Chosen on 10% of Training (64 faces per class: 6 each), PublicTest only reported.
    assert runs[0]["settings"]["val"] == "training-split"
    assert np.sum(runs[0]["validation"]["confusion"]) == 42
    assert np.sum(runs[0]["publictest"]["confusion"]) == 70
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs

    # A second call resumes from the finished run's backup instead of starting over.
    run("train.py", "--data", str(data), "--out", str(out), "--epochs", "3",
        "--widths", "8,16,16,16", "--dense", "16", "--batch", "32")
    assert (out / "history.csv").read_text().count("\n") == 4

    # Fine-tuning starts from the trained network, not from scratch.
    tuned = tmp_path / "tuned"
    run("train.py", "--data", str(data), "--out", str(tuned), "--epochs", "1",
        "--init", str(out / "best.keras"), "--batch", "32", "--val", "publictest")
    settings = json.loads((tuned / "runs.jsonl").read_text())["settings"]
    assert settings["init"].endswith("best.keras") and settings["val"] == "publictest"
    tuned_record = json.loads((tuned / "runs.jsonl").read_text())
    assert tuned_record["validation"] == tuned_record["publictest"]  # the old way: same faces
    assert json.loads((tuned / "runs.jsonl").read_text())["params"] == runs[0]["params"]

    # Distillation: a fresh network learns from the trained one's reading.
    student = tmp_path / "student"
    run("train.py", "--data", str(data), "--out", str(student), "--epochs", "1",
        "--widths", "8,8,8,8", "--dense", "8", "--batch", "32",
        "--teacher", str(out / "best.keras"), "--teacher-weight", "0.7")
    record = json.loads((student / "runs.jsonl").read_text())
    assert record["settings"]["teacher"] == [str(out / "best.keras")]
    assert record["params"] < runs[0]["params"]

    # Weight averaging: a fine-tune whose last epochs are averaged into swa.keras.
    swa = tmp_path / "swa"
    run("train.py", "--data", str(data), "--out", str(swa), "--epochs", "2", "--swa", "2",
        "--init", str(out / "best.keras"), "--batch", "32")
    record = json.loads((swa / "runs.jsonl").read_text())
    assert (swa / "swa.keras").exists() and "accuracy" in record["validation"]["best_epoch"]
    with (swa / "history.csv").open() as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert rates == pytest.approx([3e-4, 3e-4])  # constant --swa-lr while averaging

    models = tmp_path / "models"
    models.mkdir()
    # Exporting over a contract keeps its crop and the runtimes' tolerance, not its temperature.
    crop = {"detector": "blazeface_short_range", "scale": 1.2, "shift_y": -0.1, "align_eyes": True}
    (models / "emotion.json").write_text(json.dumps({
        "crop": crop, "temperature": 1.3,
        "reference": {"tolerance_steps": 4, "tolerance_note": "why 4", "int8_outputs": []}}))
    printed = run("export_tflite.py", "--keras", str(out / "best.keras"), "--data", str(data),
                  "--out", str(models), "--calibration", "32")
    assert "int8" in printed
    tflite = (models / "emotion.tflite").read_bytes()
    contract = json.loads((models / "emotion.json").read_text())
    assert contract["sha256"] == hashlib.sha256(tflite).hexdigest()
    assert contract["input"] == {"height": 48, "width": 48, "channels": 1,
                                 "range": [0.0, 1.0], "dtype": "int8"}
    assert contract["labels"][1] == "disgust"
    outputs = contract["reference"]["int8_outputs"]
    assert len(outputs) == 12 and all(len(row) == 7 for row in outputs)
    assert contract["crop"] == crop and "temperature" not in contract
    assert contract["reference"]["tolerance_steps"] == 4
    assert contract["reference"]["measured"][0]["max_steps"] == 0
    assert contract["evaluation"]["faces"] == 70


def test_degrade_aug_trains_on_degraded_faces(tmp_path: Path) -> None:
    data = tmp_path / "fer2013.csv"
    write_kaggle_csv(data, {"Training": 140, "PublicTest": 14})
    out = tmp_path / "degraded"
    run("train.py", "--data", str(data), "--out", str(out), "--epochs", "1",
        "--widths", "4,4,4,4", "--dense", "8", "--batch", "32", "--degrade-aug", "0.5",
        "--mixup", "0.2", "--erase", "0.5", "--optimizer", "sgd", "--lr", "0.01",
        "--workers", "2")
    record = json.loads((out / "runs.jsonl").read_text())
    assert record["settings"]["degrade_aug"] == 0.5 and "accuracy" in record["publictest"]
    assert record["settings"]["optimizer"] == "sgd" and record["settings"]["mixup"] == 0.2

    sys.path.insert(0, str(SCRIPTS))
    import face_batches

    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    targets = np.eye(7, dtype=np.float32)[np.arange(8) % 7]
    batches = face_batches.FaceBatches(faces, targets, None, 8, seed=1, train=True,
                                       degrade_share=1.0)
    x, y = batches[0]
    assert x.shape == (8, 48, 48, 1) and x.min() >= 0 and x.max() <= 1 and y.shape == (8, 7)


def test_a_resumed_run_draws_what_an_uninterrupted_run_would(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import face_batches
    import train

    faces = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    targets = np.eye(7, dtype=np.float32)[np.arange(40) % 7]

    def batches(epoch: int = 0) -> face_batches.FaceBatches:
        return face_batches.FaceBatches(faces, targets, None, 8, seed=3, train=True,
                                        degrade_share=0.5, epoch=epoch)

    running = batches()
    first = running[0][0]
    running.on_epoch_end()
    second = running[0][0]
    assert not np.array_equal(first, second)  # a new epoch: new order and augmentations
    assert np.array_equal(batches(epoch=1)[0][0], second)  # resumed at epoch 1: the same
    assert np.array_equal(batches()[0][0], first)
    # Batches made in another order (threads) are the same batches.
    backwards, forwards = batches(), batches()
    late = {i: backwards[i][0] for i in (4, 2, 0)}
    early = {i: forwards[i][0] for i in (0, 2, 4)}
    assert all(np.array_equal(late[i], early[i]) for i in (0, 2, 4))

    out = tmp_path / "run"
    assert train.resume_epoch(out) == 0 and train.best_score(out) is None
    (out / "backup").mkdir(parents=True)
    (out / "history.csv").write_text("epoch,val_accuracy\n0,0.41\n1,0.66\n2,0.52\n")
    assert train.best_score(out) is None  # no backup: a new run in an old folder
    args = train.parse_args(["--data", "x.csv", "--out", str(out)], "")
    logger = next(c for c in train.callbacks(args)
                  if isinstance(c, train.keras.callbacks.CSVLogger))
    assert not logger.append  # so its log starts afresh, not after the old run's epochs
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 22, "batch": 0}')
    assert train.resume_epoch(out) == 22
    # A resumed run's checkpoint must beat the best epoch logged before the restart.
    assert train.best_score(out) == 0.66
    chosen = train.callbacks(args)
    checkpoint = next(c for c in chosen if isinstance(c, train.keras.callbacks.ModelCheckpoint))
    assert checkpoint.best == 0.66
    assert next(c for c in chosen if isinstance(c, train.keras.callbacks.CSVLogger)).append


def test_teacher_targets_average_the_models_over_face_and_mirror(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import emotion_net
    import keras
    import train

    paths = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        path = tmp_path / f"t{seed}.keras"
        emotion_net.build_model([4, 4, 4, 4], 8, 0.0).save(path)
        paths.append(path)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    got = train.teacher_targets(paths, faces)
    x = faces[..., None].astype(np.float32) / 255.0
    want = np.mean([keras.models.load_model(p).predict(v, verbose=0)
                    for p in paths for v in (x, x[:, :, ::-1])], axis=0)
    assert got.shape == (5, 7) and np.allclose(got.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(got, want, atol=1e-6)
    single = train.teacher_targets(paths[:1], faces)
    assert not np.allclose(single, got, atol=1e-4)


def test_weight_average_is_the_mean_of_the_last_epochs_and_survives_a_resume(
        tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import keras
    import train_callbacks

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "swa.npz"
    average = train_callbacks.WeightAverage(path, first_epoch=1)
    average.set_model(model)
    seen = []
    for epoch in range(4):
        model.set_weights([np.full(w.shape, float(epoch * epoch), np.float32)
                           for w in model.get_weights()])
        average.on_epoch_end(epoch)
        seen.append(epoch * epoch)
    assert average.count == 3  # epoch 0 came before the averaging window
    assert np.allclose(average.mean[0], np.mean(seen[1:]))

    resumed = train_callbacks.WeightAverage(path, first_epoch=1)
    resumed.set_model(model)
    resumed.on_epoch_end(3)  # already counted before the restart: not added twice
    assert resumed.count == 3 and np.allclose(resumed.mean[1], np.mean(seen[1:]))


def test_recompute_batch_norm_gives_the_mean_statistics_of_the_batches() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import keras
    import train_callbacks

    model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
    rng = np.random.default_rng(0)
    batches = [(rng.normal(mean, scale, (256, 2)).astype(np.float32),)
               for mean, scale in ((0.0, 1.0), (4.0, 2.0), (-1.0, 0.5))]
    train_callbacks.recompute_batch_norm(model, batches)
    norm = model.layers[0]
    want_mean = np.mean([b[0].mean(axis=0) for b in batches], axis=0)
    want_var = np.mean([b[0].var(axis=0) for b in batches], axis=0)
    assert np.allclose(keras.ops.convert_to_numpy(norm.moving_mean), want_mean, atol=1e-4)
    assert np.allclose(keras.ops.convert_to_numpy(norm.moving_variance), want_var, rtol=1e-3)
    assert norm.momentum == 0.99  # restored after the pass


def test_erasing_covers_a_rectangle_of_some_faces_with_noise() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import face_batches

    rng = np.random.default_rng(0)
    untouched = face_batches.erase(np.full((50, 48, 48), 128.0, np.float32), 0.0, rng)
    assert np.all(untouched == 128.0)
    erased = face_batches.erase(np.full((400, 48, 48), 128.0, np.float32), 0.5, rng)
    changed = (erased != 128.0).reshape(400, -1)
    share = changed.any(axis=1).mean()
    assert 0.4 < share < 0.6
    areas = changed.sum(axis=1)[changed.any(axis=1)] / (48 * 48)
    assert areas.max() <= 0.3 and np.median(areas) > 0.05  # 2-25% of the face, noise
    for face in erased[changed.any(axis=1)][:20]:  # one axis-aligned rectangle each
        rows, cols = np.nonzero(face != 128.0)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert len(rows) >= 0.95 * box


def test_mixup_mixes_faces_targets_and_weights_alike() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import face_batches

    faces = np.arange(8, dtype=np.float32)[:, None] * np.ones((8, 4), np.float32)
    targets = np.eye(8, dtype=np.float32)
    weights = np.arange(8, dtype=np.float32)
    mixed_faces, mixed_targets, mixed_weights = face_batches.mixup(
        (faces, targets, weights), 0.4, np.random.default_rng(3))
    assert np.allclose(mixed_targets.sum(axis=1), 1.0)
    # Each face is the same blend of two faces as its target and its weight.
    assert np.allclose(mixed_faces[:, 0], mixed_targets @ np.arange(8))
    assert np.allclose(mixed_weights, mixed_targets @ np.arange(8))
    assert not np.allclose(mixed_targets, targets)


def test_budget_cuts_the_epochs_to_what_the_time_allows() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import argparse

    import keras
    import train_callbacks

    # A virtual clock: the first epoch (compiling) takes 20 s, the next 10 s, then 20 s.
    ends = iter([0.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0, 120.0])
    args = argparse.Namespace(budget=100.0, epochs=300)
    budget = train_callbacks.Budget(args, clock=lambda: next(ends))
    budget.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    stopped_after = []
    for epoch in range(7):
        budget.model.stop_training = False
        budget.on_epoch_end(epoch)
        if budget.model.stop_training:
            stopped_after.append(epoch)
            break
    # 10 s an epoch at epoch 1 gives 9 epochs; slower epochs then cut it further, so the
    # fit stops when the clock reaches the budget instead of overrunning it.
    assert stopped_after == [5] and args.epochs == 6
    lr = train_callbacks.lr_schedule(argparse.Namespace(**vars(args), swa=0, warmup=2, lr=1e-3))
    assert lr(5, 0.0) == pytest.approx(2e-5)  # the last epoch is at the schedule's floor


def test_fold_teachers_read_the_faces_they_left_out_and_teach_a_student(
        tmp_path: Path) -> None:
    data = tmp_path / "fer2013.csv"
    write_kaggle_csv(data, {"Training": 140, "PublicTest": 14})
    tiny = ("--epochs", "1", "--widths", "4,4,4,4", "--dense", "8", "--batch", "32")
    oofs = []
    for fold in (0, 1):
        out = tmp_path / f"fold{fold}"
        run("train.py", "--data", str(data), "--out", str(out), "--fold", str(fold),
            "--folds", "2", *tiny)
        oofs.append(out / "oof.npz")
    sys.path.insert(0, str(SCRIPTS))
    import ferdata
    import train
    import train_args

    # 140 faces, 14 held out for validation: each teacher read exactly its own fold.
    selection = ferdata.split_validation(ferdata.load_split(data, "Training"),
                                         ferdata.load_split(data, "PublicTest").images)
    fold = ferdata.fold_ids(selection.train, 2)
    for k, path in enumerate(oofs):
        with np.load(path) as oof:
            assert np.array_equal(oof["rows"], np.flatnonzero(fold == k))
            assert int(oof["count"]) == 126 and np.allclose(oof["probs"].sum(axis=1), 1)
    targets = train.oof_targets(oofs, 126)
    assert targets.shape == (126, 7) and not np.isnan(targets).any()
    with pytest.raises(ValueError, match="63 of 126 training faces have no fold"):
        train.oof_targets(oofs[:1], 126)
    with pytest.raises(ValueError, match="made on 126 training faces, not 100"):
        train.oof_targets(oofs, 100)
    with pytest.raises(SystemExit):  # folds are 0 and 1: refused before any work
        train_args.parse_args(["--data", str(data), "--fold", "2", "--folds", "2"])
    with pytest.raises(SystemExit):  # the budget would cut the averaging window away
        train_args.parse_args(["--data", str(data), "--budget", "60", "--swa", "3"])
    with pytest.raises(SystemExit):
        train_args.parse_args(["--data", str(data), "--teacher", "a.keras", "--teacher-oof",
                          *map(str, oofs)])

    student = tmp_path / "student"
    run("train.py", "--data", str(data), "--out", str(student), "--teacher-oof",
        *map(str, oofs), *tiny)
    record = json.loads((student / "runs.jsonl").read_text())
    assert record["settings"]["teacher_oof"] == [str(p) for p in oofs]


@pytest.mark.parametrize("arch", ["vgg", "residual", "separable"])
def test_each_arch_builds_a_seven_class_network_and_counts_its_macs(arch: str) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import emotion_net
    import export_tflite

    model = emotion_net.build_model([8, 16], 32, 0.0, arch)
    probs = model.predict(np.zeros((2, 48, 48, 1), np.float32), verbose=0)
    assert probs.shape == (2, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert ("Add" in kinds) == (arch == "residual")
    assert ("SeparableConv2D" in kinds) == (arch == "separable")
    # Hand count: block 1 at 48x48, block 2 at 24x24, then 12*12*16 -> 32 -> 7.
    head = 12 * 12 * 16 * 32 + 32 * 7
    first = 48 * 48 * 9 * 8  # on the one grey channel every arch has a plain conv
    if arch == "separable":  # depthwise 3x3, then 1x1
        rest = 48 * 48 * (8 * 9 + 8 * 8) + 24 * 24 * ((8 * 9 + 8 * 16) + (16 * 9 + 16 * 16))
    else:
        rest = 48 * 48 * 9 * 8 * 8 + 24 * 24 * 9 * (8 * 16 + 16 * 16)
        if arch == "residual":  # the 1x1 shortcuts where the width changes
            rest += 48 * 48 * 1 * 8 + 24 * 24 * 8 * 16
    assert export_tflite.count_macs(model) == first + rest + head


def test_bench_arch_exports_each_candidate_as_an_int8_file_with_the_mirror(
        tmp_path: Path) -> None:
    data = tmp_path / "fer2013.csv"
    write_kaggle_csv(data, {"Training": 14, "PublicTest": 7})
    listed = tmp_path / "candidates.txt"
    listed.write_text("# comment\nsmall|--widths 4,4,4,4 --dense 8\n\n"
                      "sep|--arch separable --widths 4,8,8,8 --dense 8\n")
    out = run("bench_arch.py", str(listed), "--data", str(data), "--out", str(tmp_path / "o"),
              "--calibration", "5")
    rows = [line for line in out.splitlines() if line.startswith("| small") or
            line.startswith("| sep")]
    assert len(rows) == 2
    import tensorflow as tf

    for name in ("small", "sep"):
        interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "o" / f"{name}.tflite"))
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert interpreter.get_input_details()[0]["dtype"] == np.int8
        assert "REVERSE_V2" in ops  # the mirror view is in the file
        assert ("DEPTHWISE_CONV_2D" in ops) == (name == "sep")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for text, said in (("no separator here\n", "candidates.txt:1: want NAME|train.py arguments"),
                       ("ok|\nodd|--arch round\n", "candidates.txt:2: odd: train.py: error")):
        listed.write_text(text)
        bad = subprocess.run([sys.executable, str(SCRIPTS / "bench_arch.py"), str(listed),
                              "--data", str(data), "--out", str(tmp_path / "bad")], env=env,
                             capture_output=True, text=True, timeout=600)
        assert bad.returncode != 0 and said in bad.stderr, bad.stderr
        assert not (tmp_path / "bad").exists()  # nothing built before every line is checked
