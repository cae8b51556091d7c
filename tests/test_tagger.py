"""The musicnn tagger: its log-mel input, its patches, and the shipped TFLite file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from appliance.errors import ModelError
from appliance.mood.classifier import DEFAULT_MODEL as EMOTION_MODEL
from appliance.music import tagger
from appliance.music.tagger import EMBEDDING, HOP, N_MELS, PATCH_FRAMES, Tagger, log_mel

RATE = 16000


def tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_log_mel_frames_and_bands():
    mel = log_mel(tone(1000.0, 10.0))
    assert mel.shape == (1 + 10 * RATE // HOP, N_MELS)  # centred frames, as librosa's
    peak = int(np.argmax(mel[len(mel) // 2]))
    centres = tagger._mel_to_hz(np.linspace(0, tagger._hz_to_mel(RATE / 2), N_MELS + 2))[1:-1]
    assert abs(centres[peak] - 1000.0) < 0.1 * 1000.0  # the 1 kHz tone lands in its band
    assert np.all(log_mel(np.zeros(RATE, np.float32)) == 0)  # log10(1 + 0)
    assert log_mel(np.zeros(10, np.float32)).shape == (1, N_MELS)


def test_mel_filters_are_slaney_area_normalised():
    filters = tagger._mel_filters()
    assert filters.shape == (N_MELS, 512 // 2 + 1) and np.all(filters >= 0)
    assert np.all(filters.max(axis=1) > 0)  # no empty band
    # the 2 / bandwidth normalisation gives every triangle the same area in Hz
    bin_hz = RATE / 512
    areas = filters.sum(axis=1) * bin_hz
    assert np.allclose(areas[20:], 1.0, rtol=0.15)


def test_patches_are_spread_and_short_windows_repeated():
    mel = np.arange(700 * N_MELS, dtype=np.float32).reshape(700, N_MELS)
    one, = tagger._patches(mel, 1)
    np.testing.assert_array_equal(one, mel[PATCH_FRAMES:2 * PATCH_FRAMES])  # the middle of 3
    three = tagger._patches(mel, 3)
    assert [int(p[0, 0]) // N_MELS for p in three] == [0, PATCH_FRAMES, 2 * PATCH_FRAMES]
    short, = tagger._patches(mel[:50], 3)
    assert short.shape == (PATCH_FRAMES, N_MELS)
    np.testing.assert_array_equal(short[50:100], mel[:50])  # whole frames, repeated


@pytest.fixture(scope="module")
def shipped() -> Tagger:
    return Tagger()


@pytest.mark.runtime  # also under tflite-runtime 2.14 and on arm64: two invokes, kept cheap
def test_the_shipped_tagger_embeds_a_window(shipped):
    loud = shipped.window_embedding(tone(440.0, 3.0), patches=1)
    assert loud.shape == (EMBEDDING,) and np.all(np.isfinite(loud))
    np.testing.assert_array_equal(loud, shipped.window_embedding(tone(440.0, 3.0), patches=1))


def test_the_embedding_follows_the_sound_and_the_patches(shipped):
    loud = shipped.window_embedding(tone(440.0, 10.0), patches=1)
    noise = np.random.default_rng(0).normal(0, 0.2, 10 * RATE).astype(np.float32)
    one = shipped.window_embedding(noise, patches=1)
    assert not np.allclose(loud, one, atol=1e-3)
    three = shipped.window_embedding(noise, patches=3)
    assert three.shape == (EMBEDDING,) and not np.allclose(three, one, atol=1e-6)
    assert np.all(np.isfinite(shipped.window_embedding(tone(440.0, 1.0), patches=1)))


@pytest.mark.runtime
def test_a_wrong_or_broken_tagger_file_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not the expected model file"):
        Tagger(sha256="0" * 64)
    with pytest.raises(ModelError, match="not the musicnn tagger"):
        Tagger(EMOTION_MODEL)
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(tagger.DEFAULT_MODEL.read_bytes()[:4096])
    with pytest.raises(ModelError, match="not a usable TFLite model"):
        Tagger(cut)
    with pytest.raises(ModelError, match="cannot read"):
        Tagger(tmp_path / "missing.tflite")
    same = tmp_path / "same.tflite"
    shutil.copy(tagger.DEFAULT_MODEL, same)
    assert Tagger(same).path == same


def test_a_closed_tagger_lets_its_interpreter_go_and_a_new_one_works(tmp_path):
    own = tmp_path / "own.tflite"
    shutil.copy(tagger.DEFAULT_MODEL, own)
    first = Tagger(own)
    embedding = first.window_embedding(tone(440.0, 3.0), patches=1)
    first.close()
    with pytest.raises(AttributeError):
        first.window_embedding(tone(440.0, 3.0), patches=1)
    again = Tagger(own)  # built anew, since the cache no longer holds one
    np.testing.assert_array_equal(again.window_embedding(tone(440.0, 3.0), patches=1), embedding)
