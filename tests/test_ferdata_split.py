"""The validation split that training chooses on (``scripts/ferdata.py``), on synthetic faces.

No FER2013 image is used: the faces are random arrays with planted copies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import ferdata

CLASS_SIZES = (120, 20, 110, 200, 130, 90, 130)  # imbalanced, like FER2013


def synthetic_training(seed: int = 0) -> ferdata.Split:
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(CLASS_SIZES)])
    rng.shuffle(labels)
    images = rng.integers(0, 256, (len(labels), 48, 48), dtype=np.uint8)
    votes = rng.integers(0, 5, (len(labels), 7)).astype(np.float32)
    return ferdata.Split(images, labels.astype(np.int64), votes)


def keys(images: np.ndarray) -> set[bytes]:
    return set(ferdata.pixel_keys(images))


def test_the_split_is_deterministic_and_independent_of_row_order() -> None:
    train = synthetic_training()
    test = np.random.default_rng(9).integers(0, 256, (30, 48, 48), dtype=np.uint8)
    first = ferdata.split_validation(train, test)
    again = ferdata.split_validation(train, test)
    assert np.array_equal(first.val.images, again.val.images)
    assert np.array_equal(first.train.labels, again.train.labels)
    shuffled = ferdata.take(train, np.random.default_rng(3).permutation(len(train.labels)))
    reordered = ferdata.split_validation(shuffled, test)
    assert keys(reordered.val.images) == keys(first.val.images)
    other_seed = ferdata.split_validation(train, test, seed=1)
    assert keys(other_seed.val.images) != keys(first.val.images)


def test_the_split_is_stratified_and_holds_the_fraction() -> None:
    train = synthetic_training()
    selection = ferdata.split_validation(train, np.zeros((0, 48, 48), np.uint8), fraction=0.1)
    held = np.bincount(selection.val.labels, minlength=7)
    assert held.tolist() == [round(0.1 * n) for n in CLASS_SIZES]
    assert len(selection.val.labels) + len(selection.train.labels) == len(train.labels)
    assert selection.copies_removed == 0


def test_no_face_is_on_both_sides_and_copies_within_training_stay_together() -> None:
    train = synthetic_training()
    # Plant copies inside Training: rows 1..5 repeat row 0's picture (same class).
    train.images[1:6] = train.images[0]
    train.labels[1:6] = train.labels[0]
    for seed in range(8):  # some seeds put the copied group in validation, some in training
        selection = ferdata.split_validation(train, np.zeros((0, 48, 48), np.uint8), seed=seed)
        assert not keys(selection.val.images) & keys(selection.train.images)
        assert not ferdata.copies_of(selection.val.images, selection.train.images).any()
        assert len(selection.val.labels) + len(selection.train.labels) == len(train.labels)


def test_training_copies_of_test_faces_are_removed_from_both_sides() -> None:
    train = synthetic_training()
    test = np.random.default_rng(5).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    planted = np.arange(0, 800, 25)  # 32 rows spread over every class
    train.images[planted] = test[np.arange(len(planted)) % 10]  # 10 test faces, copied 3-4x
    selection = ferdata.split_validation(train, test)
    assert selection.copies_removed == len(planted)
    assert len(selection.train.labels) + len(selection.val.labels) == len(train.labels) - 32
    for side in (selection.train, selection.val):
        assert not ferdata.copies_of(side.images, test).any()
        assert side.votes is not None and len(side.votes) == len(side.labels)


def test_a_bad_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ferdata.split_validation(synthetic_training(), np.zeros((0, 48, 48), np.uint8), 1.0)


def test_load_selection_reads_a_project_npz(tmp_path: Path) -> None:
    train = synthetic_training()
    test = np.random.default_rng(2).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    train.images[7] = test[3]
    path = tmp_path / "faces.npz"
    np.savez(path, images=np.concatenate([train.images, test]),
             labels=np.concatenate([train.labels, np.arange(20) % 7]).astype(np.int8),
             usage=np.repeat([0, 1], [len(train.labels), 20]).astype(np.uint8),
             usage_names=np.array(ferdata.SPLITS),
             ferplus_votes=np.full((len(train.labels) + 20, 10), -1, np.int8))
    selection = ferdata.load_selection(path)
    assert selection.copies_removed == 1
    assert len(selection.val.labels) == pytest.approx(0.1 * (len(train.labels) - 1), abs=7)


def test_folds_are_stratified_keep_copies_together_and_ignore_row_order() -> None:
    train = synthetic_training()
    train.images[1:6] = train.images[0]  # a group of 6 identical pictures, one class
    train.labels[1:6] = train.labels[0]
    fold = ferdata.fold_ids(train, 5)
    assert len(set(fold[:6].tolist())) == 1
    for label in range(7):  # groups dealt in turn: the folds differ by one group at most
        per_fold = np.bincount(fold[train.labels == label], minlength=5)
        assert per_fold.max() - per_fold.min() <= (6 if label == train.labels[0] else 1)
    order = np.random.default_rng(4).permutation(len(train.labels))
    reordered = ferdata.fold_ids(ferdata.take(train, order), 5)
    assert np.array_equal(reordered, fold[order])
    with pytest.raises(ValueError, match="folds must be 2 or more"):
        ferdata.fold_ids(train, 1)
