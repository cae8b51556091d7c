"""The configuration schema: one frozen dataclass per TOML section, attribute names = keys.

Each field's metadata carries the hint shown with a bad value and an optional check; the
shipped defaults live in ``defaults.toml`` and the loading in ``appliance.config``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Check = Callable[[Any], str | None]


def _spec(hint: str, check: Check | None = None) -> dict[str, Any]:
    """Field metadata: the hint shown with a bad value and an optional extra check."""
    return {"hint": hint, "check": check}


def _between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else "must be one of " + ", ".join(map(repr, choices))


#: ``camera.source``: a string whose folder or video file (``files:DIR``, ``opencv:FILE``) is,
#: like every path in a config file, relative to that file's folder.
CameraSource = str


def _check_source(value: str) -> str | None:
    kind, _, arg = value.partition(":")
    # opencv: takes a webcam index or a video file (for replays), which must exist.
    opencv_ok = kind == "opencv" and (arg.isdigit() or Path(arg).expanduser().is_file())
    if value == "picamera2" or opencv_ok or (kind == "files" and arg):
        return None
    return ('must be "picamera2", "opencv:N" (a webcam index), "opencv:FILE" (an existing '
            'video file) or "files:DIR" (a folder of images)')


def _check_size(value: str) -> str | None:
    width, sep, height = value.lower().partition("x")
    if value.strip().lower() == "auto" or (
        sep and width.isdigit() and height.isdigit()
        and 32 <= int(width) <= 10000 and 32 <= int(height) <= 10000
    ):
        return None
    return 'must be "auto" (the full-view mode) or WIDTHxHEIGHT, each side 32..10000'


def _check_pin(value: int) -> str | None:
    return None if value == -1 or 0 <= value <= 27 else "must be a BCM pin 0..27, or -1 for none"


@dataclass(frozen=True)
class Target:
    """A point on the valence/energy plane, both 0..1."""

    valence: float = field(metadata=_spec("0..1, sad to happy", _between(0, 1)))
    energy: float = field(metadata=_spec("0..1, calm to energetic", _between(0, 1)))


@dataclass(frozen=True)
class Affect:
    """Where an emotion sits on the circumplex: valence and arousal, both -1..1."""

    valence: float = field(metadata=_spec("-1..1, unpleasant to pleasant", _between(-1, 1)))
    arousal: float = field(metadata=_spec("-1..1, calm to aroused", _between(-1, 1)))


@dataclass(frozen=True)
class LibraryConfig:
    """``[library]``: where the music and its database are."""

    music_dir: Path = field(metadata=_spec("folder scanned recursively for music files"))
    database: Path = field(metadata=_spec("SQLite file of the library"))
    rescan_s: int = field(metadata=_spec("seconds between rescans, 0 = never", _between(0, 86400)))


@dataclass(frozen=True)
class CameraConfig:
    """``[camera]``: when and how the mood check uses the camera."""

    source: CameraSource = field(metadata=_spec("where frames come from", _check_source))
    lead_s: float = field(
        metadata=_spec("seconds before a track's end to check", _between(0.1, 600)))
    frames: int = field(metadata=_spec("frames per mood check", _between(1, 50)))
    led_pin: int = field(metadata=_spec("LED pin", _check_pin))
    warmup_s: float = field(metadata=_spec("seconds for the camera to settle", _between(0, 10)))
    debug_dir: Path | None = field(metadata=_spec('folder to write frames to; "" = never'))
    size: str = field(metadata=_spec('frame size, "auto" = full field of view', _check_size))
    burst_s: float = field(
        metadata=_spec("seconds the frames of a check are spread over", _between(0, 30)))
    timeout_s: float = field(
        metadata=_spec("longest wait for one frame", _between(0.1, 30)))


@dataclass(frozen=True)
class MoodConfig:
    """``[mood]``: the emotion model and its thresholds."""

    model: Path | None = field(metadata=_spec('TFLite model; "" = the shipped one'))
    min_face_score: float = field(metadata=_spec("face detector score floor", _between(0, 1)))
    min_confidence: float = field(
        metadata=_spec("confidence below which a reading is unsure", _between(0, 1))
    )
    detector: str = field(metadata=_spec(
        "face detector", _one_of("short_range", "full_range", "full_range_sparse")))
    detect_tiles: int = field(
        metadata=_spec("rows of detector tiles besides the whole frame", _between(0, 6)))
    detect_early_exit: bool = field(metadata=_spec(
        "skip the tiles when the whole-frame passes already give a face"))
    detect_mirror: bool = field(metadata=_spec(
        "short range scores a candidate's window and its mirror image, the gates take the mean"))
    min_candidate_score: float = field(metadata=_spec(
        "full-range candidates below min_face_score need short-range's confirmation",
        _between(0, 1)))
    min_confirm_score: float = field(metadata=_spec(
        "short-range score that confirms such a candidate", _between(0, 1)))
    min_refind_score: float = field(metadata=_spec(
        "short-range score at which a full-range face must be found again", _between(0, 1)))
    min_near_score: float = field(metadata=_spec(
        "short-range score that keeps a candidate 1/15 of the frame wide or more", _between(0, 1)))
    min_second_look_score: float = field(metadata=_spec(
        "gate of the second look at a dropped candidate on a tighter window; 1 = none",
        _between(0, 1)))
    min_face_px: float = field(
        metadata=_spec("narrowest face box classified, pixels", _between(0, 1000)))
    min_sharpness: float = field(
        metadata=_spec("lowest Laplacian variance of a crop", _between(0, 10000)))
    max_turn: float = field(
        metadata=_spec("largest head turn classified, 0 frontal..1 profile", _between(0, 1)))
    circumplex: Mapping[str, Affect] = field(
        metadata=_spec("valence and arousal of each emotion, for mood as numbers")
    )


@dataclass(frozen=True)
class AudioConfig:
    """``[audio]``: the VLC output."""

    output: str = field(metadata=_spec("audio output", _one_of("alsa", "pulse", "dummy")))
    device: str = field(metadata=_spec('output device; "" = default'))
    volume: int = field(metadata=_spec("volume 0..100", _between(0, 100)))
    fade_s: float = field(metadata=_spec("fade-out seconds", _between(0, 10)))


@dataclass(frozen=True)
class GpioConfig:
    """``[gpio]``: the button."""

    pin_factory: str = field(
        metadata=_spec(
            'gpiozero pin factory; "" = its default',
            _one_of("", "mock", "lgpio", "rpigpio", "pigpio", "native"),
        )
    )
    button_pin: int = field(metadata=_spec("button pin", _check_pin))
    hold_s: float = field(metadata=_spec("seconds to hold for pause/resume", _between(0.1, 30)))


@dataclass(frozen=True)
class RulesConfig:
    """``[rules]``: how the next track is chosen (see ``appliance.music.rules``)."""

    strategy: str = field(metadata=_spec("rule set", _one_of("uplift", "iso", "match")))
    step: float = field(metadata=_spec("most valence change per track", _between(0.01, 1)))
    no_repeat: int = field(metadata=_spec("tracks before one may repeat", _between(0, 1000)))
    targets: Mapping[str, Target] = field(metadata=_spec("where the music leads, per emotion"))
    moods: Mapping[str, Target] = field(metadata=_spec("where each emotion sits, for match"))


@dataclass(frozen=True)
class DaemonConfig:
    """``[daemon]``: the service's own files."""

    state_file: Path = field(metadata=_spec("JSON status file"))
    events: Path | None = field(metadata=_spec('JSON-lines event log; "" = none'))
    watchdog: bool = field(metadata=_spec("ping the systemd watchdog"))


@dataclass(frozen=True)
class HistoryConfig:
    """``[history]``: plays and mood checks kept in the library database."""

    enabled: bool = field(metadata=_spec("store mood checks (false: only plays, no moods)"))
    keep_days: int = field(metadata=_spec("days of history kept", _between(1, 3650)))


@dataclass(frozen=True)
class LearningConfig:
    """``[learning]``: which songs lift this listener (see ``appliance.music.learning``)."""

    weight: float = field(metadata=_spec("pull of the learned effect, 0 = off", _between(0, 5)))
    prior_plays: float = field(
        metadata=_spec("plays' worth of doubt before an effect counts", _between(0.5, 100))
    )
    explore: float = field(metadata=_spec("share of choices that try the least known track",
                                          _between(0, 0.5)))
    regions: int = field(metadata=_spec("cells per axis of the valence/energy plane",
                                        _between(1, 10)))


@dataclass(frozen=True)
class Config:
    """The effective configuration, one attribute per TOML section."""

    library: LibraryConfig
    camera: CameraConfig
    mood: MoodConfig
    audio: AudioConfig
    gpio: GpioConfig
    rules: RulesConfig
    daemon: DaemonConfig
    history: HistoryConfig
    learning: LearningConfig
