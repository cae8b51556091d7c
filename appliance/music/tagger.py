"""musicnn's music tagger on the box: a 200-number summary of what a window sounds like.

``models/musicnn-msd.tflite`` is Jordi Pons's pre-trained ``MSD_musicnn`` (musicnn 0.1.0, ISC
licence) converted to TFLite: a 3-s log-mel patch in; out, the likelihood of 50 last.fm tags
("sad", "happy", "Mellow", "chill", "party", "metal", ...) and the 200-unit layer before them
(its embedding). Trained on the Million Song Dataset's tags, it hears what spectral statistics
miss (sad against calm above all), so the valence model reads its embedding beside
``audio_features`` (figures in ``models/VALENCE_CARD.md``).

The input is the representation musicnn was trained on, computed here in numpy the way librosa
computes it: a 512-point Hann STFT with a 256-sample hop at 16 kHz, centred (zero padding),
power spectrum, 96 Slaney-style mel bands up to 8 kHz, then log10(1 + 10^4 x); patches are 187
frames (3 s), cut back to back and the asked number taken evenly spread over each window.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from appliance.errors import ModelError
from appliance.mood.runtime import forget, load_interpreter
from appliance.music.audio import SAMPLE_RATE

#: The converted tagger shipped beside the valence model.
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "musicnn-msd.tflite"
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s at 16 kHz / 256
EMBEDDING = 200
#: Column names of the embedding in a feature vector.
EMBEDDING_NAMES = tuple(f"musicnn{i}" for i in range(EMBEDDING))


class Tagger:
    """The TFLite tagger, loaded once; ``window_embedding`` per window of audio."""

    def __init__(self, model: Path | None = None, sha256: str = "") -> None:
        """Load ``model`` (default: the shipped file); ``sha256``, when given, must match.

        Raises:
            ModelError: the file is missing, not the expected file, or not the tagger.
        """
        self.path = Path(model) if model is not None else DEFAULT_MODEL
        self._interpreter = load_interpreter(self.path, num_threads=1, sha256=sha256)
        inputs = self._interpreter.get_input_details()
        outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        if (len(inputs) != 1 or tuple(inputs[0]["shape"]) != (1, PATCH_FRAMES, N_MELS)
                or "penultimate" not in outputs
                or tuple(outputs["penultimate"]["shape"]) != (1, EMBEDDING)):
            raise ModelError(f"{self.path}: not the musicnn tagger (a 3-s log-mel patch in, "
                             f"its {EMBEDDING}-unit embedding out)")
        self._input = inputs[0]["index"]
        self._embedding = outputs["penultimate"]["index"]

    def window_embedding(self, audio: np.ndarray, patches: int) -> np.ndarray:
        """The mean embedding (``EMBEDDING``, float64) of ``patches`` 3-s patches spread over
        one mono window at ``SAMPLE_RATE``; a window shorter than a patch is repeated to fill
        one (musicnn was trained that way)."""
        return np.mean([self._run(p) for p in _patches(log_mel(audio), patches)], axis=0)

    def close(self) -> None:
        """Let the interpreter's memory go (about 100 MiB under XNNPACK); the tagger is
        unusable afterwards."""
        del self._interpreter
        forget(self.path)

    def _run(self, patch: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._input, patch[None].astype(np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._embedding)[0].astype(np.float64)


def _patches(mel: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` (at least 1) back-to-back 3-s patches' worth spread evenly over ``mel``: the
    middle one when one is asked, the first and last when two; fewer when there are fewer."""
    if len(mel) < PATCH_FRAMES:
        return [np.resize(mel, (PATCH_FRAMES, N_MELS))]  # repeats whole frames
    slots = len(mel) // PATCH_FRAMES
    picks = [slots // 2] if count == 1 else np.unique(np.linspace(0, slots - 1, count).round())
    return [mel[int(i) * PATCH_FRAMES:(int(i) + 1) * PATCH_FRAMES] for i in picks]


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Frames x ``N_MELS``: musicnn's log-compressed mel spectrogram of mono audio."""
    padded = np.pad(np.asarray(audio, dtype=np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP  # at least 1: the padding alone is a frame
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    # einsum, not BLAS: OpenBLAS's spinning worker threads would not share the scan's nice value
    mel = np.einsum("ij,kj->ik", power.astype(np.float32), _mel_filters())
    return np.log10(1 + 10000 * mel).astype(np.float32)


@cache
def _hann() -> np.ndarray:
    """The periodic Hann window (as scipy's ``get_window("hann", N_FFT)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@cache
def _mel_filters() -> np.ndarray:
    """``N_MELS`` x bins Slaney mel filters, area-normalised (librosa's defaults)."""
    mel_f = _mel_to_hz(np.linspace(0.0, _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    bins = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    ramps = mel_f[:, None] - bins[None, :]
    widths = np.diff(mel_f)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


# Slaney's mel scale: linear to 1 kHz (200/3 Hz a mel), logarithmic above.
_F_SP, _MIN_LOG_HZ, _LOG_STEP = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return float(_MIN_LOG_MEL + np.log(hz / _MIN_LOG_HZ) / _LOG_STEP)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return np.where(mel < _MIN_LOG_MEL, mel * _F_SP,
                    _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)))
