"""Make the tiny tagged audio files under tests/assets/ (run once; the results are committed).

Needs PyAV (``pip install av``: its wheels bundle FFmpeg with LAME, FLAC, Vorbis, Opus and AAC
encoders) and mutagen. Not a dependency of the package: the tests only read the results.
FFmpeg writes the MP3, FLAC, Ogg and Opus tags (``TXXX:VALENCE``, Vorbis comments), so the
reader is tested against files it did not write; M4A freeform atoms are written with mutagen,
since FFmpeg's MP4 muxer does not write them.

    python scripts/make_test_audio.py tests/assets
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from mutagen.mp4 import MP4, AtomDataType, MP4FreeForm

#: suffix -> (codec, sample rate, bit rate, valence, energy)
FORMATS = {
    "mp3": ("libmp3lame", 8000, 8000, "0.810", "0.720"),
    "flac": ("flac", 8000, 0, "0.250", "0.300"),
    "ogg": ("vorbis", 8000, 0, "0.600", "0.400"),
    "opus": ("libopus", 48000, 6000, "0.400", "0.900"),
    "m4a": ("aac", 8000, 8000, "0.150", "0.200"),
}
SECONDS = 0.5


def tone(rate: int, channels: int) -> np.ndarray:
    """A quiet 440 Hz tone as interleaved 16-bit samples, shaped (1, n * channels)."""
    t = np.arange(int(rate * SECONDS)) / rate
    wave = (np.sin(2 * np.pi * 440 * t) * 2000).astype(np.int16)
    return np.repeat(wave, channels).reshape(1, -1)


def encode(path: Path, codec: str, rate: int, bit_rate: int, tags: dict[str, str]) -> None:
    # FFmpeg's own Vorbis encoder is experimental and takes stereo only.
    layout, options = ("stereo", {"strict": "-2"}) if codec == "vorbis" else ("mono", {})
    with av.open(str(path), "w") as container:
        container.metadata.update(tags if path.suffix != ".m4a" else {})
        stream = container.add_stream(codec, rate=rate, layout=layout, options=options)
        assert isinstance(stream, av.AudioStream)  # for mypy: an audio codec gives one
        if bit_rate:
            stream.bit_rate = bit_rate
        samples = tone(rate, 2 if layout == "stereo" else 1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def tag_m4a(path: Path, tags: dict[str, str]) -> None:
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    audio.tags["\xa9nam"] = [tags["title"]]
    audio.tags["\xa9ART"] = [tags["artist"]]
    for key in ("VALENCE", "ENERGY"):
        audio.tags[f"----:com.apple.iTunes:{key}"] = [
            MP4FreeForm(tags[key].encode(), dataformat=AtomDataType.UTF8)
        ]
    audio.save()


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, (codec, rate, bit_rate, valence, energy) in FORMATS.items():
        path = folder / f"tone.{suffix}"
        tags = {"title": f"Tone {suffix.upper()}", "artist": "Moodbox Tests",
                "VALENCE": valence, "ENERGY": energy}
        encode(path, codec, rate, bit_rate, tags)
        if suffix == "m4a":
            tag_m4a(path, tags)
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/assets"))
