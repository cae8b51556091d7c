"""Reading a fixed budget of audio from a music file with PyAV (the only module that imports it).

PyAV's wheels bundle FFmpeg, so one dependency decodes every format the library scans (MP3,
FLAC, Ogg Vorbis, Opus, M4A/AAC, WAV); on Raspberry Pi OS it is apt's ``python3-av``, which
picamera2 pulls in anyway. Audio comes back as mono float32 at ``SAMPLE_RATE``.

The budget: at most ``windows`` windows of ``window_s`` seconds, spread over the track by
seeking, so a 3-hour file costs what a 3-minute one does. A track no longer than the budget is
read whole, in consecutive windows (a 30-s clip gives three 10-s windows). FFmpeg's many errors
are translated here, once, into ``AudioError`` with a one-line reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import AudioError

log = logging.getLogger(__name__)

#: Sample rate of the audio handed to the features (Hz).
SAMPLE_RATE = 16000
#: Shortest audio worth estimating from (s); a 2-s jingle still gets an estimate.
MIN_SECONDS = 1.0
#: Peak level below which a track counts as silent (full scale = 1.0; about -66 dBFS).
SILENCE_PEAK = 5e-4
# Frames read past a seek target before giving up on reaching it (a broken index).
_MAX_SKIP_S = 30.0


@dataclass(frozen=True)
class Excerpt:
    """The audio read from one file: mono float32 windows at ``SAMPLE_RATE``."""

    windows: tuple[np.ndarray, ...]
    duration_s: float  # of the whole file as its container says, 0.0 when unknown

    @property
    def seconds(self) -> float:
        """Seconds of audio actually read."""
        return sum(len(w) for w in self.windows) / SAMPLE_RATE


def read_excerpt(path: Path, windows: int = 3, window_s: float = 10.0) -> Excerpt:
    """Read at most ``windows`` x ``window_s`` seconds of ``path``, spread over the track.

    Raises:
        AudioError: the file cannot be opened or decoded, has no audio stream, holds less than
            ``MIN_SECONDS`` of audio, or is silent.
    """
    with _translated(path):
        import av  # here only: the package imports without PyAV, the estimator needs it
        import av.logging

        av.logging.set_level(av.logging.PANIC)  # FFmpeg's log lines would bypass ours

        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            stream.codec_context.thread_count = 1  # one thread: the scan runs beside playback
            duration = _duration(container, stream)
            budget = windows * window_s
            if duration <= budget + window_s:  # short, or length unknown: read from the start
                audio = _decode(container, stream, None, budget)
                parts = _split(audio, windows, int(window_s * SAMPLE_RATE))
            else:
                parts = [_decode(container, stream, start, window_s)
                         for start in _starts(duration, windows, window_s)]
    parts = [p for p in parts if len(p)]
    return _checked(path, Excerpt(tuple(parts), duration))


def _checked(path: Path, excerpt: Excerpt) -> Excerpt:
    if excerpt.seconds < MIN_SECONDS:
        raise AudioError(f"{path}: only {excerpt.seconds:.1f} s of audio, too short to estimate")
    peak = max(float(np.max(np.abs(w))) for w in excerpt.windows)
    if peak < SILENCE_PEAK:
        raise AudioError(f"{path}: silent (peak {peak:.1e} of full scale)")
    return excerpt


def _duration(container: Any, stream: Any) -> float:
    """The track's length in seconds from the container or stream header, 0.0 if unknown."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return 0.0


def _starts(duration: float, windows: int, window_s: float) -> list[float]:
    """Window starts centred at 1/(n+1), 2/(n+1), ... of the track (skipping intro and outro)."""
    return [duration * (i + 1) / (windows + 1) - window_s / 2 for i in range(windows)]


def _decode(container: Any, stream: Any, start: float | None, seconds: float) -> np.ndarray:
    """Decode ``seconds`` of mono audio from ``start`` (None: from where the stream is)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    if start is not None:
        container.seek(int(start / stream.time_base), stream=stream, backward=True)
    wanted = int(seconds * SAMPLE_RATE)
    skip_limit = (start or 0.0) + _MAX_SKIP_S
    chunks: list[np.ndarray] = []
    have = 0
    for frame in container.decode(stream):
        at = float(frame.pts * stream.time_base) if frame.pts is not None else None
        if start is not None and at is not None and at + frame.samples / frame.sample_rate < start:
            if at > skip_limit:
                break
            continue  # before the target: the seek landed on an earlier packet
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
            have += len(chunks[-1])
        if have >= wanted:
            break
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return np.nan_to_num(audio[:wanted].astype(np.float32, copy=False))


def _split(audio: np.ndarray, windows: int, size: int) -> list[np.ndarray]:
    """Cut ``audio`` into at most ``windows`` consecutive windows of ``size`` samples.

    A tail shorter than half a window joins the window before it, so a 24-s clip gives
    10 + 14 s, never a stub that would give noisy statistics.
    """
    parts = [audio[i:i + size] for i in range(0, len(audio), size)][:windows]
    if len(parts) > 1 and len(parts[-1]) < size // 2:
        tail = parts.pop()
        parts[-1] = np.concatenate([parts[-1], tail])
    return parts


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    """FFmpeg's and the OS's errors about ``path`` as one-line ``AudioError``s."""
    try:
        yield
    except AudioError:
        raise
    except ImportError as exc:
        raise AudioError(f"{path}: cannot decode audio: PyAV is not installed "
                         "(pip install av; on Raspberry Pi OS apt install python3-av)") from exc
    except (OSError, ValueError, RuntimeError, EOFError, MemoryError) as exc:
        # av.FFmpegError subclasses OSError or ValueError; the message holds FFmpeg's reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(f"{path}: cannot decode audio: {reason}") from exc
