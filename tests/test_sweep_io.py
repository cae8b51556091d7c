"""scripts/sweep_io.py: the faces survive the trip to a GPU machine unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import ferdata  # noqa: E402
import sweep_io  # noqa: E402


def test_pack_then_unpack_gives_back_every_face_and_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    count = 2 * sweep_io.COLUMNS + 37  # the last mosaic row is padded
    source = tmp_path / "fer.npz"
    votes = rng.integers(0, 10, (count, 10)).astype(np.int8)
    votes[5] = -1
    np.savez(source, images=rng.integers(0, 256, (count, 48, 48), dtype=np.uint8),
             labels=rng.integers(0, 7, count).astype(np.int8),
             usage=(np.arange(count) % 5 == 0).astype(np.uint8),
             usage_names=np.array(["Training", "PublicTest", "PrivateTest"]),
             ferplus_votes=votes)
    sweep_io.pack(source, tmp_path / "packed")
    # Random pixels are the worst case for the codec; real faces shrink to 70%.
    assert (tmp_path / "packed" / "fer.webp").stat().st_size < 1.2 * count * 48 * 48
    sweep_io.unpack(tmp_path / "packed", tmp_path / "back.npz")
    for split in ("Training", "PublicTest"):
        want = ferdata.load_split(source, split)
        got = ferdata.load_split(tmp_path / "back.npz", split)
        assert np.array_equal(got.images, want.images)
        assert np.array_equal(got.labels, want.labels)
        assert np.array_equal(got.votes, want.votes)


def test_summary_says_each_runs_scores_or_that_it_stopped(tmp_path: Path) -> None:
    finished, stopped = tmp_path / "finished", tmp_path / "stopped"
    finished.mkdir()
    stopped.mkdir()
    record = {"epochs_this_run": 47, "seconds": 386, "validation": {"accuracy": 0.66492},
              "publictest": {"accuracy": 0.6648}}
    (finished / "runs.jsonl").write_text(json.dumps(record) + "\n")
    assert sweep_io.summary(finished) == (
        "finished: 47 epochs, 386 s, validation 0.6649, PublicTest 0.6648")
    assert sweep_io.summary(stopped) == "stopped: no run log (stopped before the end)"


def test_a_wrong_command_prints_the_usage() -> None:
    assert sweep_io.main([]) == 2
    assert sweep_io.main(["unpack", "only-one"]) == 2


def test_runs_are_grouped_into_tars_small_enough_to_come_back(tmp_path: Path) -> None:
    def run(name: str, model_bytes: int) -> list[Path]:
        (tmp_path / name).mkdir()
        model, log = tmp_path / name / "slim.keras", tmp_path / name / "history.csv"
        model.write_bytes(b"m" * model_bytes)
        log.write_text("epoch\n")
        return [model, log]

    a, b, big, d = run("a", 40), run("b", 40), run("c", 300), run("d", 10)  # 46, 46, 306, 16
    groups = sweep_io.tar_groups([a, b, big, d], limit=100)
    # c alone is over the limit, so it travels without its model, and its log still fits
    # beside a and b (98 bytes); d would make 114, so it opens a second tar.
    assert groups == [a + b + big[1:], d]


def test_a_run_over_the_limit_without_its_model_loses_its_next_largest_file(
        tmp_path: Path) -> None:
    model, history, log = (tmp_path / "slim.keras", tmp_path / "history.csv",
                           tmp_path / "train.log")
    model.write_bytes(b"m" * 300)
    history.write_bytes(b"h" * 150)
    log.write_text("epoch\n")
    # Without the model the run still comes to 156 bytes, and a tar over the limit never
    # comes back: the history goes too, so the log at least returns.
    assert sweep_io.tar_groups([[model, history, log]], limit=100) == [[log]]
