"""The clock of the track that plays now: when it really started, how long it has played
(pauses left out), its length as the player reports it, when its lead check is due, and
whether it stalled or ended far too early. A part of ``Session``; same thread, same ports."""

from __future__ import annotations

import logging
from typing import Protocol

from appliance.config import Config
from appliance.daemon.events import EventLog
from appliance.daemon.ports import Clock, Player, Scheduler
from appliance.daemon.report import Reporter
from appliance.daemon.state import StateFile
from appliance.music.library import Track

log = logging.getLogger(__name__)

#: A track that the player starts with length 0 and that has not ended after this long is
#: played with the library's duration (VLC had no length yet); one that ends first is corrupt.
CONFIRM_S = 0.5
#: A track that the player has neither started nor failed this long after ``play`` hung in
#: VLC's input (no event will come): it is counted as a failure of the file and the music goes
#: on, so that it does not stop for good.
START_S = 10.0
#: Seconds between reads of the player's position and length.
PROGRESS_S = 1.0
#: A position that has not moved for this long while playing means a stalled output.
STALL_S = 5.0
#: A track counts as ended early when it played less than this share of its length and at
#: least ``EARLY_MIN_S`` less than it (VLC itself ends up to its caching time early).
EARLY_SHARE = 0.5
EARLY_MIN_S = 1.0
#: Playing this long past its length (and this share of it) means the end never came.
OVERRUN_S, OVERRUN_SHARE = 10.0, 0.1
# A re-read length or lead deadline closer than this to the armed one is left alone.
_SLACK_S = 0.5
_TIMERS = ("start", "lead", "confirm", "progress")


class Owner(Protocol):
    """What ``Playing`` needs of the session it belongs to."""

    d: Scheduler
    config: Config
    clock: Clock
    player: Player
    state: StateFile
    events: EventLog
    report: Reporter
    paused: bool

    def announced(self, track: Track) -> None:
        """The track really plays."""

    def file_failed(self, why: str, verdict: str) -> None:
        """The track never started, stalled, never ended or ended far too early; ``verdict``
        says what is wrong with the file if it happens again."""


class Playing:
    """The current track's timing, for ``session``."""

    def __init__(self, session: Owner) -> None:
        self.s = session
        self.track: Track | None = None
        self.announced = False
        self.length = 0.0
        self._played = 0.0
        self._since: float | None = None
        self._lead_due: float | None = None
        self._lead_fired = False
        self._last_pos = -1.0
        self._still_s = 0.0

    def begin(self, track: Track) -> None:
        """``track`` was handed to the player; it counts once the player says it plays."""
        self.stop()
        self.track = track
        self.s.d.at("start", START_S)

    def stop(self) -> None:
        """Nothing plays (or the track is being replaced): disarm its timers."""
        self.track, self.announced, self.length = None, False, 0.0
        self._played, self._since, self._lead_due = 0.0, None, None
        self._lead_fired, self._last_pos, self._still_s = False, -1.0, 0.0
        for name in _TIMERS:
            self.s.d.at(name, None)
        self.s.state.update(next_check_at=None)

    def playing(self) -> None:
        """The player says the track plays."""
        if self.announced or self.track is None:
            return
        length = self.s.player.length_s()
        if length > 0:
            self._announce(length)
        else:
            self.s.d.at("confirm", CONFIRM_S)

    def start_due(self) -> None:
        """``START_S`` after ``play``: a track the player has not started by now hung."""
        if self.track is not None and not self.announced:
            self.s.file_failed(f"VLC neither started nor failed it within {START_S:.0f} s",
                               "its input hangs")

    def confirm(self) -> None:
        """Length 0 at start but still playing: use the library's duration."""
        if self.track is not None and not self.announced and self.s.player.is_playing():
            self._announce(self.track.duration_s)

    def _announce(self, length: float) -> None:
        track = self.track
        assert track is not None
        self.announced, self.length = True, length
        self.s.d.at("start", None)
        self._since = self.s.clock.monotonic()
        # State first, so that readers of the event find the state file saying so.
        self.s.state.update(state="playing", track={
            "path": track.path, "title": track.title, "artist": track.artist,
            "valence": track.valence, "energy": track.energy, "length_s": round(length, 3)})
        position = self.s.player.position_s()  # > 0 when the daemon took the start up late
        self._schedule_lead(position)
        self.s.d.at("progress", PROGRESS_S)
        self.s.announced(track)
        self.s.events.emit("track_started", path=track.path, title=track.title,
                           valence=track.valence, energy=track.energy, length_s=length,
                           position_s=round(position, 3))
        self.s.report.set_mode("playing")  # after the event: READY=1 comes after it

    def _lead_delay(self, position: float) -> float:
        """Seconds from now to the lead deadline, with the audio at ``position``."""
        return max(0.0, self.length - position - self.s.config.camera.lead_s)

    def _schedule_lead(self, position: float) -> None:
        delay = self._lead_delay(position)
        self._lead_due = self.s.clock.monotonic() + delay
        self.s.d.at("lead", delay)
        self.s.state.update(next_check_at=round(self.s.clock.time() + delay, 3))

    def lead_done(self) -> None:
        """The lead deadline came (a check started, or was missed)."""
        self._lead_fired, self._lead_due = True, None
        self.s.state.update(next_check_at=None)

    def played_s(self) -> float:
        """Seconds heard so far, pauses left out."""
        now = self.s.clock.monotonic()
        return self._played + (now - self._since if self._since is not None else 0.0)

    def paused(self) -> None:
        """The music paused: the clock and the lead deadline stop."""
        self._played = self.played_s()
        self._since = None
        for name in ("start", "lead", "progress"):
            self.s.d.at(name, None)
        self.s.state.update(next_check_at=None)

    def resumed(self) -> None:
        """The music resumed: the clock and the lead deadline go on."""
        self._since = self.s.clock.monotonic()
        self._still_s = 0.0
        if self.track is not None and not self.announced:
            self.s.d.at("start", START_S)  # a pause before the start gives it time again
        if not self._lead_fired:
            self._schedule_lead(self.s.player.position_s())
        self.s.d.at("progress", PROGRESS_S)

    def progress(self) -> None:
        """Read the position and length back: re-arm the lead check, spot a stall."""
        if not self.announced or self.s.paused:
            return
        player = self.s.player
        position, length = player.position_s(), player.length_s()
        if length > 0 and abs(length - self.length) > _SLACK_S:
            log.info("the player now says %.1f s long (was %.1f s)", length, self.length)
            self.length = length
        if not self._lead_fired and self._lead_due is not None:
            due = self.s.clock.monotonic() + self._lead_delay(position)
            if length > 0 and abs(due - self._lead_due) > _SLACK_S:
                self._schedule_lead(position)
        if self._stalled(position):
            return
        self.s.d.at("progress", PROGRESS_S)

    def _stalled(self, position: float) -> bool:
        self._still_s = self._still_s + PROGRESS_S if position == self._last_pos else 0.0
        self._last_pos = position
        overrun = self.played_s() - self.length
        if self._still_s >= STALL_S:
            self.s.file_failed(f"playback stalled at {position:.1f} s of {self.length:.1f} s",
                               "its playback stalls")
            return True
        if self.length > 0 and overrun > max(OVERRUN_S, OVERRUN_SHARE * self.length):
            self.s.file_failed(f"no end {overrun:.0f} s after its length of "
                               f"{self.length:.1f} s", "its end never comes")
            return True
        return False

    def ended_early(self) -> bool:
        """Whether the track ended far before its length (then the session was told)."""
        played, length = self.played_s(), self.length
        if length > 0 and played < EARLY_SHARE * length and length - played >= EARLY_MIN_S:
            self.s.file_failed(f"it ended after {played:.1f} s of {length:.1f} s",
                               "its audio is corrupt")
            return True
        return False
