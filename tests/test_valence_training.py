"""The valence training scripts on a tiny 4Q-shaped folder of WAVs made here (no 4Q clip).

Window rows (``scripts/valence_features.py``) must average to exactly what the appliance
computes for a track; training (``train_valence.py``) fits on window rows and writes a file the
estimator loads; the cross-validation (``evaluate_music.py``) never trains on a held-out clip.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import evaluate_music
import music4q
import train_valence
import valence_features
import valence_model

from appliance.demo import write_wav
from appliance.music import audio
from appliance.music.estimate import ValenceEstimator
from appliance.music.tagger import Tagger
from appliance.music.track_vector import FEATURE_NAMES, TrackVectors

pytest.importorskip("av")
RATE = 16000
# quadrant -> (chord root Hz, beats per second, loudness): something for the model to find
STYLE = {1: (330.0, 3.0, 0.4), 2: (110.0, 4.0, 0.6), 3: (147.0, 0.7, 0.1), 4: (262.0, 1.0, 0.15)}


def clip_audio(quadrant: int, seconds: float, seed: int) -> np.ndarray:
    """A chord with a beat and a little noise, shaped by the quadrant."""
    root, beats, level = STYLE[quadrant]
    t = np.arange(int(seconds * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5)) / 3
    pulse = 0.5 + 0.5 * (np.sin(2 * np.pi * beats * t) > 0.5)
    noise = np.random.default_rng(seed).normal(0, 0.02, len(t))
    return (level * chord * pulse + noise).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve clips, three per quadrant, one artist each; one 16-s clip has two windows."""
    root = tmp_path_factory.mktemp("4q")
    rows = []
    for n in range(12):
        quadrant = n % 4 + 1
        name = f"Q{quadrant}/MT{n:010d}.wav"
        (root / name).parent.mkdir(exist_ok=True)
        write_wav(root / name, clip_audio(quadrant, 16.0 if n == 0 else 3.0, n), RATE)
        rows.append({"song_id": f"MT{n:010d}", "quadrant": quadrant,
                     "valence": 1 if quadrant in (1, 4) else -1,
                     "arousal": 1 if quadrant in (1, 2) else -1,
                     "artist": f"artist {n}", "file": name})
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty feature cache folder in place of build/valence/."""
    monkeypatch.setattr(valence_features, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(evaluate_music, "VIBENET_CACHE", tmp_path / "cache" / "vibenet.jsonl")
    return tmp_path / "cache"


def test_window_rows_average_to_the_appliance_track_vector(folder, cache):
    clips = music4q.load_clips(folder)
    rows = valence_features.window_rows(clips)
    assert np.bincount(rows.clip).tolist() == [2] + [1] * 11  # 16 s: 10 s + 6 s
    assert rows.length[:2].tolist() == [10 * RATE, 6 * RATE]
    tracks = rows.tracks(len(clips))
    vectors = TrackVectors(Tagger(), valence_features.PATCHES)
    for i, clip in enumerate(clips):
        expected = vectors.track(audio.read_excerpt(clip.path).windows)
        np.testing.assert_array_equal(tracks[i], expected)


def test_window_rows_resume_from_the_cache(folder, cache, monkeypatch):
    clips = music4q.load_clips(folder)
    first = valence_features.window_rows(clips[:5])
    computed = []
    one = valence_features._one
    monkeypatch.setattr(valence_features, "_one",
                        lambda c, vectors: computed.append(c) or one(c, vectors))
    every = valence_features.window_rows(clips)
    assert [c.song_id for c in computed] == [c.song_id for c in clips[5:]]
    np.testing.assert_array_equal(every.x[:len(first.x)], first.x)
    computed.clear()
    again = valence_features.window_rows(clips)
    assert computed == []
    np.testing.assert_array_equal(again.x, every.x)
    np.testing.assert_array_equal(again.length, every.length)


def test_a_clip_that_cannot_be_read_has_no_rows(folder, cache, tmp_path):
    clips = music4q.load_clips(folder)[:3]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    clips[1] = music4q.Clip("MTbroken", 2, -1, 1, "x", broken)
    rows = valence_features.window_rows(clips)
    assert 1 not in rows.clip
    assert np.isnan(rows.tracks(3)[1]).all() and not np.isnan(rows.tracks(3)[[0, 2]]).any()


def test_cross_validation_never_trains_on_a_held_out_clip(monkeypatch):
    rng = np.random.default_rng(0)
    quadrant = np.repeat([1, 2, 3, 4], 10)
    owner = np.repeat(np.arange(40), 3)
    x = rng.normal(quadrant[owner, None], 0.5, (len(owner), 6))
    tracks = np.stack([x[owner == i].mean(axis=0) for i in range(40)])
    folds = np.arange(40) % 5
    seen: list[np.ndarray] = []
    fit = valence_model.fit_ensemble
    monkeypatch.setattr(valence_model, "fit_ensemble",
                        lambda rows, labels, config: seen.append(rows) or fit(rows, labels, config))
    config = valence_model.FitConfig(hidden=0, steps=200, quantiles=9)
    valence, energy = evaluate_music.cross_validate(x, owner, tracks, quadrant, folds, config)
    assert len(seen) == 5
    for fold, rows in enumerate(seen):
        held_out = x[folds[owner] == fold]
        assert len(rows) == len(x) - len(held_out)
        assert not (rows[:, None, :] == held_out[None, :, :]).all(axis=2).any()
    assert evaluate_music.auc(np.isin(quadrant, (1, 2)), energy) > 0.9
    assert valence.shape == (40,)


def test_training_writes_a_model_the_estimator_loads(folder, cache, tmp_path):
    out = tmp_path / "valence.json"
    args = ["--data", str(folder), "--out", str(out), "--steps", "30", "--members", "2",
            "--quantiles", "5", "--hidden", "4"]
    assert train_valence.main(args) == 0
    spec = json.loads(out.read_text())
    assert spec["format"] == 3 and "13 10-s windows" in spec["rows"]
    estimator = ValenceEstimator(out)
    assert estimator.version.startswith("valence-4q-")
    result = estimator.predict(np.zeros((1, len(FEATURE_NAMES))))
    assert result.shape == (1, 2) and np.all((result >= 0) & (result <= 1))


def test_evaluation_reports_each_fold_seed_and_their_mean(folder, cache, tmp_path, capsys):
    report = tmp_path / "figures.json"
    args = ["--data", str(folder), "--fold-seeds", "1", "2", "--timing", "0", "--steps", "30",
            "--members", "1", "--quantiles", "5", "--hidden", "0", "--json", str(report),
            "--vibenet-python", str(tmp_path / "no-such-python")]
    assert evaluate_music.main(args) == 0
    table = capsys.readouterr().out
    assert "fold seed 1 |" in table and "fold seed 2 |" in table
    figures = json.loads(report.read_text())["figures"]
    runs = [row for name, row in figures.items() if "fold seed " in name]
    mean = next(row for name, row in figures.items() if "mean of fold seeds 1, 2" in name)
    assert len(runs) == 2 and mean["valence AUC"] == pytest.approx(
        (runs[0]["valence AUC"] + runs[1]["valence AUC"]) / 2)
