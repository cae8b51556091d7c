"""The small ports through which ``Session`` reaches the world: a clock, the loop's timers
(the scheduler), the player, and the mood-check runner.

In production the daemon's loop, libvlc, the wall clock and a worker thread implement them;
``appliance.daemon.virtual`` implements all four on a virtual clock, so that every race
between a check, the end of a track, the button and a stop can be replayed exactly, in
milliseconds. Nothing here imports the loop, the session or a hardware library.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from appliance.mood.reading import MoodReading


class Clock(Protocol):
    """Time as the session sees it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, silences)."""

    def time(self) -> float:
        """Unix time (for the state file a person reads)."""


class SystemClock:
    """The real clocks of the machine."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def time(self) -> float:
        """``time.time()``."""
        return time.time()


class Scheduler(Protocol):
    """What the session asks of the loop that runs it.

    Attributes:
        empty_rescan_s: how often to look for music while there is none and rescans are off.
    """

    empty_rescan_s: float

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""

    def at(self, name: str, delay_s: float | None) -> None:
        """Post ``Timer(name)`` in ``delay_s`` seconds (replacing an armed one; None disarms)."""

    def post(self, event: object) -> None:
        """Queue an event for the loop (safe from any thread)."""

    def request_rescan(self, delay_s: float | None = None) -> None:
        """Scan the music folder now (None) or in ``delay_s`` seconds."""

    def check_audio(self) -> bool:
        """Whether the audio output opens; if not, tell the session and retry with backoff."""


class Player(Protocol):
    """One track at a time; news comes back as ``PlayerEvent``s carrying ``token``."""

    @property
    def token(self) -> int:
        """The token of the track started last."""

    def prepare(self, path: str) -> None:
        """Open the next track ahead of time."""

    def play(self, path: str) -> int:
        """Start ``path`` now at full volume; returns its token."""

    def set_fade(self, fraction: float) -> None:
        """Set the volume to ``fraction`` (0..1) of the configured one (one fade step)."""

    def fade_out(self, seconds: float) -> None:
        """Fade to silence over ``seconds``, blocking (only used when stopping)."""

    def pause(self) -> None:
        """Pause."""

    def resume(self) -> None:
        """Resume after ``pause``."""

    def stop(self) -> None:
        """Stop; later news of the stopped track carries a stale token."""

    def is_playing(self) -> bool:
        """True while a track plays (not paused, not ended)."""

    def position_s(self) -> float:
        """Seconds into the current track."""

    def length_s(self) -> float:
        """The current track's length in seconds; 0 when unknown."""


@dataclass(frozen=True)
class CheckDone:
    """A mood check finished (or failed) off the loop.

    Attributes:
        check: which check (the session numbers them; a cancelled one is recognised).
        token: the player token of the track that was playing when the check began.
        reading: the reading, or None when the check failed.
        error: why it failed (``""`` when it did not).
        component: what failed: "camera", "model" or "mood".
    """

    check: int
    token: int
    reading: MoodReading | None
    error: str = ""
    component: str = ""


@dataclass(frozen=True)
class CameraSwitched:
    """The camera of a running check was switched on or off."""

    check: int
    on: bool


class CheckRunner(Protocol):
    """Runs a mood check somewhere other than the loop and posts its events."""

    @property
    def available(self) -> str:
        """``""`` when checks can run, else why not (models missing, ...)."""

    @property
    def busy(self) -> bool:
        """True while a check (even a cancelled one) still holds the camera."""

    def start(self, check: int, token: int) -> None:
        """Begin check number ``check``; posts ``CameraSwitched`` and then ``CheckDone``."""

    def cancel(self, check: int) -> None:
        """Ask check ``check`` to end early; its result is still posted, and dropped."""

    def close(self) -> None:
        """Release the camera and the models; idempotent."""
