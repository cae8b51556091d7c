"""When the session checks the mood and what it does with the answer: the lead check near a
track's end, a press's check, the timeout of a hung camera, the cancel of a check whose track
went away, and ``check_missed`` with the reason when a check could not happen. A part of
``Session``; same thread, same ports.

A used result is recorded in the history (trigger ``end`` or ``button``) and handed on to the
choice with its row id, so that the play it leads to links back to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from appliance.daemon.choosing import Chooser, Queued
from appliance.daemon.events import EventLog
from appliance.daemon.moodchecks import MoodChecks
from appliance.daemon.playing import Playing
from appliance.daemon.ports import CheckDone, Clock, Player, Scheduler
from appliance.mood.reading import MoodReading
from appliance.music.library import Track

#: Presses this soon after a check join it (no second check, no second switch).
JOIN_S = 3.0
#: A check that has not answered after this long is given up (a hung camera).
CHECK_TIMEOUT_S = 10.0
_TRIGGERS = {"lead": "end", "press": "button"}


@dataclass
class _Check:
    """A check in flight: its number, the track token, why, and what was paused at start."""

    number: int
    token: int
    purpose: str  # "lead" or "press"
    paused: bool


@dataclass
class Stats:
    """Counters for the soak and the bench."""

    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    missed: int = 0
    cancelled: int = 0
    joined: int = 0
    missed_why: dict[str, int] = field(default_factory=dict)


class Owner(Protocol):
    """What ``CheckFlow`` needs of the session it belongs to."""

    d: Scheduler
    clock: Clock
    player: Player
    events: EventLog
    play: Playing
    chooser: Chooser
    paused: bool
    next: Queued | None
    fading: Queued | None
    tracks: list[Track]

    @property
    def current(self) -> Track | None:
        """The track started last."""

    def switch(self, queued: Queued) -> None:
        """Switch to ``queued`` now (with a fade)."""


class CheckFlow:
    """The checks of ``session``: at most one in flight."""

    def __init__(self, session: Owner, checks: MoodChecks) -> None:
        self.s, self.checks = session, checks
        self.check: _Check | None = None
        self.switch_asked = False
        self.made = 0
        self.last_end = -1e18
        self.stats = Stats()

    def lead(self) -> None:
        """``camera.lead_s`` before the end: check, then choose and queue the next track."""
        s = self.s
        if s.current is None or s.paused or not s.play.announced:
            return
        s.play.lead_done()
        if self.check is None and s.next is None and s.fading is None:
            self.start("lead")

    def start(self, purpose: str) -> None:
        """Start a check for ``purpose`` ("lead" or "press"), or say why it cannot run."""
        why = self.checks.unavailable()
        if why:
            self.miss(why)
            self.use(purpose, None)
            return
        self.made += 1
        self.check = _Check(self.made, self.s.player.token, purpose, self.s.paused)
        self.stats.attempted += 1
        self.checks.begin(self.check.number, self.check.token)
        self.s.d.at("check_timeout", CHECK_TIMEOUT_S)

    def on_check(self, done: CheckDone) -> None:
        """A check's result: use it if it is the one still wanted, else drop it."""
        pending = self.check
        used = pending is not None and done.check == pending.number
        reading = self.checks.finished(done, used)
        if not used or pending is None:
            return
        self.check = None
        self.last_end = self.s.clock.monotonic()
        self.s.d.at("check_timeout", None)
        if done.reading is None:
            self.stats.failed += 1
        else:
            self.stats.succeeded += 1
        if pending.token != self.s.player.token or self.s.current is None:
            return
        purpose = "press" if self.switch_asked else pending.purpose
        if purpose == "press" and self.s.paused and not pending.paused:
            purpose = "lead"  # a hold came after the press: the later gesture wins
        self.use(purpose, reading, recorded=True)

    def use(self, purpose: str, reading: MoodReading | None, recorded: bool = False) -> None:
        """Choose with ``reading`` (a check that ran is ``recorded`` in the history) and
        switch now (a press) or queue the choice (the lead check)."""
        s = self.s
        self.switch_asked = False
        if not s.tracks:
            return
        check_id = s.chooser.check(reading, _TRIGGERS[purpose]) if recorded else None
        queued = s.chooser.choose(reading, s.current, s.tracks, check_id=check_id)
        if purpose == "press":
            s.switch(queued)
        else:
            s.next = queued
            s.player.prepare(queued.choice.track.path)

    def timeout(self) -> None:
        """The camera gave no answer in time: give the check up and choose without it."""
        pending = self.check
        if pending is None:
            return
        self.cancel()
        self.miss(f"the camera gave no answer within {CHECK_TIMEOUT_S:.0f} s")
        self.use("press" if self.switch_asked else pending.purpose, None, recorded=True)

    def cancel(self) -> None:
        """Cancel the check in flight (its result, when it comes, is dropped)."""
        if self.check is not None:
            self.checks.runner.cancel(self.check.number)
            self.stats.cancelled += 1
            self.check = None
            self.s.d.at("check_timeout", None)

    def miss(self, why: str) -> None:
        """A check that could not happen, and why."""
        self.stats.missed += 1
        self.stats.missed_why[why] = self.stats.missed_why.get(why, 0) + 1
        self.s.events.emit("check_missed", reason=why)
