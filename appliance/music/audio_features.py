"""Summary features of a music excerpt, in numpy only (no librosa, no numba).

One short-time Fourier transform per window (2048-point Hann frames, 512-sample hop at 16 kHz)
feeds everything: a 40-band log-mel spectrum and its cepstrum (MFCC), spectral shape
(centroid, spread, roll-off, flatness, flux, octave-band contrast), loudness and its dynamics,
a 12-bin chroma read relative to its best-fitting key (major/minor clarity: a cue for valence)
and a rhythm summary from the onset envelope (tempo, pulse clarity, onset rate). Each window
gives the same-length vector of statistics (``track_vector`` weighs them into a track's).
``FEATURE_NAMES`` names every column, so a model file can say what it was trained on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from appliance.music.audio import SAMPLE_RATE

#: Bumped whenever a change to this module or to ``audio.py`` changes the numbers; models and
#: feature caches record it, so stale ones are noticed.
FEATURES_VERSION = 1
N_FFT = 2048
HOP = 512
N_MELS = 40
N_MFCC = 13
_FPS = SAMPLE_RATE / HOP  # frames per second (31.25)
_EPS = 1e-10
_OCTAVES = (0, 200, 400, 800, 1600, 3200, 8000)  # contrast band edges (Hz)
# Krumhansl-Kessler key profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_SHAPE = ("centroid", "spread", "rolloff", "flatness", "flux", "rms_db", "zcr")


def _names() -> tuple[str, ...]:
    names = [f"mel{i}_{s}" for s in ("mean", "std") for i in range(N_MELS)]
    names += [f"mfcc{i}_{s}" for s in ("mean", "std", "dstd") for i in range(N_MFCC)]
    names += [f"{f}_{s}" for f in _SHAPE for s in ("mean", "std")]
    names += [f"contrast{i}_{s}" for s in ("mean", "std") for i in range(len(_OCTAVES) - 1)]
    names += ["rms_range", "low_energy"]
    names += [f"chroma_rel{i}" for i in range(12)]
    names += ["key_major", "key_minor", "mode", "chroma_entropy", "chroma_flux"]
    names += ["tempo", "pulse_clarity", "onset_mean", "onset_std", "onset_rate"]
    return tuple(names)


FEATURE_NAMES = _names()


def usable_windows(windows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The windows that hold at least one STFT frame of audio.

    Raises:
        ValueError: none does.
    """
    usable = [w for w in windows if len(w) >= N_FFT]
    if not usable:
        raise ValueError("no window is long enough for one analysis frame")
    return usable


def window_features(audio: np.ndarray) -> np.ndarray:
    """The statistics of one mono window at ``SAMPLE_RATE`` (at least ``N_FFT`` samples)."""
    power = _power_spectrum(audio.astype(np.float64))
    logmel = 10 * np.log10(_dot(power, _mel_filters().T) + _EPS)
    mfcc = _dot(logmel, _dct().T)
    parts = [
        _mean_std(logmel), _mean_std(mfcc), np.std(np.diff(mfcc, axis=0), axis=0),
        _shape(audio, power), _contrast(power), _dynamics(power),
        _tonality(power), _rhythm(logmel),
    ]
    return np.concatenate([np.ravel(p) for p in parts])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` without BLAS: OpenBLAS's worker threads would not share the scanning thread's
    nice value, and they spin: measured here, 0.20 s of CPU per track instead of 0.39."""
    return np.einsum("ij,jk->ik", a, b)


def _power_spectrum(audio: np.ndarray) -> np.ndarray:
    """Frames x (N_FFT/2+1) power spectrum of Hann-windowed frames."""
    count = 1 + (len(audio) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    frames = audio[index] * np.hanning(N_FFT)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def _mean_std(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x.mean(axis=0), x.std(axis=0)])


def _shape(audio: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Spectral centroid, spread, roll-off, flatness, flux, loudness, zero crossings."""
    freqs = _freqs()
    total = power.sum(axis=1) + _EPS
    centroid = power @ freqs / total
    spread = np.sqrt(np.maximum(power @ freqs**2 / total - centroid**2, 0))
    rolloff = freqs[np.argmax(np.cumsum(power, axis=1) >= 0.85 * total[:, None], axis=1)]
    flatness = np.exp(np.mean(np.log(power + _EPS), axis=1)) / (power.mean(axis=1) + _EPS)
    magnitude = np.sqrt(power)
    flux = np.r_[0.0, np.sqrt((np.diff(magnitude, axis=0).clip(0) ** 2).sum(axis=1))]
    rms_db = 10 * np.log10(total / N_FFT**2 * 2 + _EPS)
    signs = np.signbit(audio[: len(audio) // HOP * HOP].reshape(-1, HOP))
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    columns = (centroid / 1000, spread / 1000, rolloff / 1000, flatness, flux / (1 + flux.mean()),
               rms_db, zcr)
    return np.array([[c.mean(), c.std()] for c in columns]).ravel()


def _contrast(power: np.ndarray) -> np.ndarray:
    """Octave-band spectral contrast: log of the top fifth over the bottom fifth of each band."""
    freqs, values = _freqs(), []
    for low, high in itertools.pairwise(_OCTAVES):
        band = np.sort(power[:, (freqs >= low) & (freqs < high)], axis=1)
        k = max(1, band.shape[1] // 5)
        peak, valley = band[:, -k:].mean(axis=1), band[:, :k].mean(axis=1)
        values.append(np.log10(peak + _EPS) - np.log10(valley + _EPS))
    return _mean_std(np.stack(values, axis=1))


def _dynamics(power: np.ndarray) -> np.ndarray:
    """Loudness range (95th - 10th percentile, dB) and the share of frames below mean energy."""
    energy = power.sum(axis=1)
    db = 10 * np.log10(energy + _EPS)
    return np.array([np.percentile(db, 95) - np.percentile(db, 10),
                     np.mean(energy < energy.mean())])


def _tonality(power: np.ndarray) -> np.ndarray:
    """Key-relative chroma, key clarity (major, minor, their difference), entropy, flux."""
    chroma = _dot(np.sqrt(power), _chroma_filters().T)
    chroma /= chroma.sum(axis=1, keepdims=True) + _EPS
    profile = chroma.mean(axis=0)
    major = np.array([np.corrcoef(profile, np.roll(_MAJOR, k))[0, 1] for k in range(12)])
    minor = np.array([np.corrcoef(profile, np.roll(_MINOR, k))[0, 1] for k in range(12)])
    major, minor = np.nan_to_num(major), np.nan_to_num(minor)
    tonic = int(np.argmax(major)) if major.max() >= minor.max() else int(np.argmax(minor))
    relative = np.roll(profile, -tonic)
    entropy = -np.sum(chroma * np.log(chroma + _EPS), axis=1).mean() / np.log(12)
    flux = np.abs(np.diff(chroma, axis=0)).sum(axis=1).mean() if len(chroma) > 1 else 0.0
    return np.r_[relative, major.max(), minor.max(), major.max() - minor.max(), entropy, flux]


def _rhythm(logmel: np.ndarray) -> np.ndarray:
    """Tempo (BPM / 100), pulse clarity, onset strength and the rate of onset peaks."""
    onset = np.r_[0.0, np.diff(logmel, axis=0).clip(0).mean(axis=1)]
    centred = onset - onset.mean()
    low, high = int(_FPS * 60 / 200), int(_FPS * 60 / 40)  # 40-200 BPM
    if len(centred) <= high + 1 or not np.any(centred):
        return np.array([1.2, 0.0, onset.mean(), onset.std(), 0.0])
    acf = np.correlate(centred, centred, "full")[len(centred) - 1:]
    acf /= acf[0]
    lag = low + int(np.argmax(acf[low:high + 1]))
    peaks = (onset[1:-1] > onset[:-2]) & (onset[1:-1] >= onset[2:])
    strong = peaks & (onset[1:-1] > onset.mean() + onset.std())
    rate = strong.sum() / (len(onset) / _FPS)
    return np.array([60 * _FPS / lag / 100, acf[lag], onset.mean(), onset.std(), rate])


@cache
def _freqs() -> np.ndarray:
    return np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)


@cache
def _mel_filters() -> np.ndarray:
    """N_MELS x bins triangular filters, equal area, 30 Hz to Nyquist (HTK mel scale)."""
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + f / 700)

    edges_mel = np.linspace(mel(np.array(30.0)), mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    freqs = _freqs()
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    filters = np.maximum(0, np.minimum(rising, falling))
    return filters * (2 / (edges[2:] - edges[:-2]))[:, None]


@cache
def _dct() -> np.ndarray:
    """N_MFCC x N_MELS orthonormal DCT-II."""
    n = np.arange(N_MELS)
    basis = np.cos(np.pi / N_MELS * (n[None, :] + 0.5) * np.arange(N_MFCC)[:, None])
    basis *= np.sqrt(2 / N_MELS)
    basis[0] /= np.sqrt(2)
    return basis


@cache
def _chroma_filters() -> np.ndarray:
    """12 x bins: each bin from 55 Hz to 4 kHz counted in its nearest pitch class (C = 0)."""
    freqs = _freqs()
    filters = np.zeros((12, len(freqs)))
    usable = (freqs >= 55) & (freqs <= 4000)
    midi = 69 + 12 * np.log2(freqs[usable] / 440)
    filters[np.round(midi).astype(int) % 12, np.flatnonzero(usable)] = 1.0
    return filters
