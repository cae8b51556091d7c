"""The button: a press checks the mood and switches with a fade (or joins the check under
way), a hold pauses or resumes; the later gesture wins. A part of ``Session``; same thread,
same ports."""

from __future__ import annotations

from typing import Protocol

from appliance.config import Config
from appliance.daemon.checkflow import JOIN_S, CheckFlow, Stats, _Check
from appliance.daemon.choosing import Queued
from appliance.daemon.events import EventLog
from appliance.daemon.playing import Playing
from appliance.daemon.ports import Clock, Player, Scheduler
from appliance.daemon.report import Reporter
from appliance.music.library import Track

#: One step of a fade.
FADE_STEP_S = 0.05


class Owner(Protocol):
    """What ``Buttons`` needs of the session it belongs to."""

    d: Scheduler
    config: Config
    clock: Clock
    player: Player
    events: EventLog
    report: Reporter
    play: Playing
    flow: CheckFlow
    paused: bool
    ended_while_paused: bool
    next: Queued | None
    fading: Queued | None

    @property
    def current(self) -> Track | None:
        """The track started last."""

    @property
    def check(self) -> _Check | None:
        """The check in flight."""

    @property
    def stats(self) -> Stats:
        """The checks' counters."""

    def advance(self, queued: Queued | None) -> None:
        """Play ``queued`` now."""

    def ended(self) -> None:
        """The current track ended."""

    def audio_ready(self) -> None:
        """The output opens."""


class Buttons:
    """The gestures of ``session``'s button, and the fade of a switch."""

    def __init__(self, session: Owner) -> None:
        self.s = session
        self._fade_steps = 1
        self._fade_done = 0

    def press(self, event: object = None) -> None:
        """Button: check, choose, and switch with a fade (or join the check under way)."""
        self.s.events.emit("button", action="press")
        mode = self.s.report.mode
        if mode == "waiting_library":
            self.s.d.request_rescan()
        elif mode == "waiting_audio":
            if self.s.d.check_audio():  # a press says "try the sound card now"
                self.s.audio_ready()
        elif self.s.current is None:
            return
        elif self.s.check is not None:
            self.s.flow.switch_asked = True
            self.s.stats.joined += 1
        elif self.s.fading is not None or self.s.clock.monotonic() - self.s.flow.last_end < JOIN_S:
            self.s.stats.joined += 1
            if self.s.fading is None and self.s.next is not None:
                self.switch(self.s.next)  # the lead check just chose: switch to its choice
        else:
            self.s.flow.switch_asked = True
            self.s.flow.start("press")

    def switch(self, queued: Queued) -> None:
        """Fade out and play ``queued`` (at once when paused or fades are off)."""
        fade = self.s.config.audio.fade_s
        if self.s.paused or fade <= 0 or not self.s.player.is_playing():
            self.s.advance(queued)
            return
        self.s.next, self.s.fading = None, queued
        self._fade_steps = max(1, round(fade / FADE_STEP_S))
        self._fade_done = 0
        self.s.d.at("fade", FADE_STEP_S)

    def fade_step(self) -> None:
        """One step of the fade of a switch under way."""
        if self.s.fading is None:
            return
        self._fade_done += 1
        self.s.player.set_fade(1 - self._fade_done / self._fade_steps)
        if self._fade_done >= self._fade_steps:
            self.s.advance(self.s.fading)
        else:
            self.s.d.at("fade", FADE_STEP_S)

    def hold(self, event: object = None) -> None:
        """Button hold: pause, or resume."""
        self.s.events.emit("button", action="hold")
        if self.s.current is None or not self.s.play.announced:
            return
        if self.s.paused:
            self.s.paused = False
            if self.s.ended_while_paused:
                self.s.ended_while_paused = False
                self.s.report.set_mode("playing")
                self.s.ended()
                return
            self.s.player.resume()
            self.s.play.resumed()
            self.s.report.set_mode("playing")
        else:
            self.s.paused = True
            if self.s.fading is not None:  # a pause stops a switch under way; it waits
                self.s.next, self.s.fading = self.s.fading, None
                self.s.d.at("fade", None)
                self.s.player.set_fade(1.0)
            self.s.player.pause()
            self.s.play.paused()
            self.s.report.set_mode("paused")
