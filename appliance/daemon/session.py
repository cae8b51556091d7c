"""What the daemon does with the music: play, check the mood near each track's end, choose,
queue, skip what cannot play, pause, and say so (events, state file, STATUS=, LED).

All of it runs on the loop's one consumer thread, and reaches the world only through the
ports of ``appliance.daemon.ports`` (scheduler, player, clock, check runner), so the same code
runs under the daemon and on a virtual clock. Mood checks run elsewhere; their result comes
back as a ``CheckDone`` event carrying the check's number and the track's token. The rules:

- The lead check starts ``camera.lead_s`` before the end; the timer is re-armed from the
  player's position and length every ``PROGRESS_S``. A track that ends before its check is done
  goes on to a choice made without a reading, and ``check_missed`` says why.
- A press starts a check and switches (with a fade) when it is done. A press during a check,
  a fade, or within ``JOIN_S`` of the last check joins it: one check, one switch.
- The later gesture wins: a hold after a press keeps the music paused (the choice waits).
- A track that ends long before its length counts as a failure; ``SHORT_ENDS`` of them mark
  it unplayable. A suspicious end or a stalled position first probes the audio output: a lost
  sound card is waited for the way start-up does, and the track is played again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.config import Config
from appliance.daemon.events import ButtonHeld, ButtonPressed, LibraryScanned, PlayerEvent
from appliance.daemon.moodchecks import MoodChecks
from appliance.daemon.playing import Playing
from appliance.daemon.ports import CameraSwitched, CheckDone, CheckRunner, Clock, Player, Scheduler
from appliance.daemon.report import Reporter
from appliance.errors import LibraryError, PlaybackError
from appliance.mood.reading import MoodReading
from appliance.music.library import Library, Track
from appliance.music.rules import Choice, choose_next

log = logging.getLogger(__name__)

#: Tracks failing in a row before the audio output itself is suspected.
FAILURES_BEFORE_AUDIO_CHECK = 3
#: Ends long before the known length before a track is marked unplayable.
SHORT_ENDS = 2
#: Presses this soon after a check join it (no second check, no second switch).
JOIN_S = 3.0
#: A check that has not answered after this long is given up (a hung camera).
CHECK_TIMEOUT_S = 10.0
#: One step of a fade.
FADE_STEP_S = 0.05
_HISTORY = 1000

Queued = tuple[Choice, MoodReading | None]


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


class Session:
    """The listening session: current track, history, the queued choice, the checks."""

    def __init__(self, loop: Scheduler, config: Config, report: Reporter, library: Library,
                 player: Player, runner: CheckRunner, clock: Clock) -> None:
        self.d, self.config, self.report, self.clock = loop, config, report, clock
        self.library, self.player = library, player
        self.events, self.state = report.events, report.state
        self.checks = MoodChecks(report, runner, clock)
        self.tracks: list[Track] = library.tracks()
        self.history: list[Track] = []
        self.next: Queued | None = None
        self.fading: Queued | None = None
        self.check: _Check | None = None
        self.play = Playing(self)
        self.paused = self.audio_ok = self.switch_asked = self.ended_while_paused = False
        self.failures = 0  # tracks failed in a row
        self.short_ends: dict[str, int] = {}
        self.scans = 0  # library scans taken in so far
        self.checks_made = 0
        self.undecided = 0  # choices in a row made without a decided reading
        self.last_check_end = -1e18
        self.stats = Stats()

    @property
    def current(self) -> Track | None:
        """The track started last (None between tracks)."""
        return self.play.track

    def handlers(self) -> dict[type, Callable[..., None]]:
        """The session's part of the loop's dispatch table."""
        return {ButtonPressed: self.press, ButtonHeld: self.hold, PlayerEvent: self.on_player,
                CheckDone: self.on_check, CameraSwitched: self.checks.camera,
                LibraryScanned: self.on_scanned}

    def timer_handler(self, name: str) -> Callable[[], None] | None:
        """The handler of the session's deadline ``name``."""
        return {"lead": self._lead, "confirm": self.play.confirm, "fade": self._fade_step,
                "progress": self.play.progress, "check_timeout": self._check_timeout}.get(name)

    # ---- start-up and shut-down -----------------------------------------------------

    def start(self) -> None:
        """Report a mood check that cannot run (the music plays without checks)."""
        if self.checks.fault:
            self.events.emit("error", component="model", message=self.checks.fault)
            self.report.show("fast")

    def stop_music(self, fade_s: float) -> None:
        """Cancel a running check, fade out and stop (shutdown)."""
        self._cancel_check()
        self.report.set_mode("stopping")
        if self.player.is_playing():
            self.player.fade_out(fade_s)
        self.player.stop()

    # ---- waiting states -------------------------------------------------------------

    def wait_audio(self, why: str, retry_s: float) -> None:
        """The output cannot be opened: say so; the loop retries in ``retry_s``."""
        self.audio_ok = False
        self.report.error_once("audio", why)
        self.report.show("slow")
        self.report.set_mode("waiting_audio", f"waiting for audio device: {why}; retry in "
                             f"{retry_s:.0f} s")

    def audio_ready(self) -> None:
        """The output opens: start (or carry on with) the music."""
        self.audio_ok = True
        self.report.recovered("audio")
        if self.current is None or self.report.mode == "waiting_audio":
            self._advance(self.next)

    def audio_lost(self, why: str) -> None:
        """The output went away mid-track: stop, and play the track again once it is back."""
        track = self.current
        self._cancel_check()
        self.play.stop()
        self.player.stop()
        if track is not None:
            self.next = (Choice(track, f"played again, the audio output failed ({why})",
                                0.5, 0.5), None)

    def _wait_library(self) -> None:
        self.play.stop()
        folder = self.config.library.music_dir
        every = self.config.library.rescan_s or self.d.empty_rescan_s
        self.report.show("fast")  # no music at all: a person must add some
        self.report.set_mode("waiting_library", f"no playable music in {folder}; looking again "
                             f"every {every:.0f} s")
        self.d.request_rescan(every)

    def on_scanned(self, event: LibraryScanned) -> None:
        """A scan finished: refresh the track list, and start if we were waiting for music."""
        if event.error:
            self.report.error_once("library", event.error)
        else:
            self.report.recovered("library")
            log.info("library: %s", event.summary)
        self.tracks = self.library.tracks()
        self.scans += 1
        waiting = self.report.mode == "waiting_library"
        if self.audio_ok and (waiting or self.current is None) and self.tracks:
            self._advance(None)
        elif waiting and not self.tracks:
            self._wait_library()  # still nothing: look again later

    # ---- playing --------------------------------------------------------------------

    def _advance(self, queued: Queued | None) -> None:
        """Play the queued choice (or one chosen now); a file that is gone is replaced by a
        choice made with the same reading."""
        reading = queued[1] if queued else None
        note = ""
        while True:
            if queued is None:
                if not self.tracks:
                    self._wait_library()
                    return
                queued = (self._choose(reading, note), reading)
            if self._play(queued[0].track):
                return
            queued, note = None, "re-chosen with the same reading, the queued file is gone"

    def _play(self, track: Track) -> bool:
        self.next = self.fading = None
        self.paused = self.ended_while_paused = False
        self._cancel_check()
        self.play.stop()
        if not os.path.isfile(track.path):
            self._skip(track, "file not found")
            return False
        try:
            self.player.play(track.path)
        except PlaybackError as exc:
            self._skip(track, str(exc))
            return False
        self.play.begin(track)
        return True

    def on_player(self, event: PlayerEvent) -> None:
        """Player news about the current track (news about replaced tracks is dropped)."""
        if event.token != self.player.token or self.current is None:
            return
        if event.kind == "playing":
            self.play.playing()
        elif event.kind == "ended":
            self._ended()
        elif event.kind == "error":
            self.skip_current("VLC cannot open or decode it")

    def announced(self, track: Track) -> None:
        """The track really plays: it enters the history, and the LED says all is well."""
        self.failures = 0
        self.history = [*self.history[-_HISTORY:], track]
        self.report.show(self.checks.led_pattern)

    def _ended(self) -> None:
        if not self.play.announced:
            self.skip_current("no audio in it (VLC read a length of 0)")
            return
        if self.paused:
            self.ended_while_paused = True  # a hold just before the end: stay paused
            return
        if self.play.ended_early():
            return
        if self.fading is not None:
            self._advance(self.fading)
            return
        if self.check is not None:
            self._miss("the track ended before its mood check was done")
        elif self.next is None:
            self._miss("the track ended before its check was due (its length was wrong)")
        self._advance(self.next)

    def short_end(self, played_s: float, length_s: float) -> None:
        """The track ended long before its length: the output, or the file, is at fault."""
        track = self.current
        assert track is not None
        why = f"it ended after {played_s:.1f} s of {length_s:.1f} s"
        if not self.d.check_audio():
            self.audio_lost(why)
            return
        count = self.short_ends.get(track.path, 0) + 1
        self.short_ends[track.path] = count
        if count >= SHORT_ENDS:
            self.skip_current(f"{why}, {count} times: its audio is corrupt")
            return
        self._miss(f"{why} (a failure of the file, counted)")
        self.failures += 1
        self._advance(self.next)

    def stalled(self, why: str) -> None:
        """The position stopped moving while playing: probe the output, else skip."""
        if not self.d.check_audio():
            self.audio_lost(why)
        else:
            self.skip_current(why)

    def _skip(self, track: Track, why: str) -> None:
        self.events.emit("skipped", path=track.path, why=why)
        try:
            self.library.mark_unplayable(track.path, why)
            self.tracks = self.library.tracks()
        except LibraryError as exc:
            log.warning("%s", exc)
            self.tracks = [t for t in self.tracks if t.path != track.path]
        self.failures += 1

    def skip_current(self, why: str) -> None:
        """Mark the current track unplayable and go on (or wait for a lost output)."""
        assert self.current is not None
        self._skip(self.current, why)
        self._cancel_check()
        self.play.stop()
        if self.failures % FAILURES_BEFORE_AUDIO_CHECK == 0 and not self.d.check_audio():
            return  # the output is gone: the loop retries and calls audio_ready()
        self._advance(self.next)

    # ---- mood checks, the button ----------------------------------------------------

    def _lead(self) -> None:
        """``camera.lead_s`` before the end: check, then choose and queue the next track."""
        if self.current is None or self.paused or not self.play.announced:
            return
        self.play.lead_done()
        if self.check is None and self.next is None and self.fading is None:
            self._start_check("lead")

    def _start_check(self, purpose: str) -> None:
        why = self.checks.unavailable()
        if why:
            self._miss(why)
            self._use(purpose, None)
            return
        self.checks_made += 1
        self.check = _Check(self.checks_made, self.player.token, purpose, self.paused)
        self.stats.attempted += 1
        self.checks.begin(self.check.number, self.check.token)
        self.d.at("check_timeout", CHECK_TIMEOUT_S)

    def on_check(self, done: CheckDone) -> None:
        """A check's result: use it if it is the one still wanted, else drop it."""
        pending = self.check
        used = pending is not None and done.check == pending.number
        reading = self.checks.finished(done, used)
        if not used or pending is None:
            return
        self.check = None
        self.last_check_end = self.clock.monotonic()
        self.d.at("check_timeout", None)
        if done.reading is None:
            self.stats.failed += 1
        else:
            self.stats.succeeded += 1
        if pending.token != self.player.token or self.current is None:
            return
        purpose = "press" if self.switch_asked else pending.purpose
        if purpose == "press" and self.paused and not pending.paused:
            purpose = "lead"  # a hold came after the press: the later gesture wins
        self._use(purpose, reading)

    def _use(self, purpose: str, reading: MoodReading | None) -> None:
        self.switch_asked = False
        if not self.tracks:
            return
        queued = (self._choose(reading), reading)
        if purpose == "press":
            self._switch(queued)
        else:
            self.next = queued
            self.player.prepare(queued[0].track.path)

    def _check_timeout(self) -> None:
        pending = self.check
        if pending is None:
            return
        self._cancel_check()
        self._miss(f"the camera gave no answer within {CHECK_TIMEOUT_S:.0f} s")
        self._use("press" if self.switch_asked else pending.purpose, None)

    def _cancel_check(self) -> None:
        if self.check is not None:
            self.checks.runner.cancel(self.check.number)
            self.stats.cancelled += 1
            self.check = None
            self.d.at("check_timeout", None)

    def _miss(self, why: str) -> None:
        self.stats.missed += 1
        self.stats.missed_why[why] = self.stats.missed_why.get(why, 0) + 1
        self.events.emit("check_missed", reason=why)

    def press(self, event: object = None) -> None:
        """Button: check, choose, and switch with a fade (or join the check under way)."""
        self.events.emit("button", action="press")
        mode = self.report.mode
        if mode == "waiting_library":
            self.d.request_rescan()
        elif mode == "waiting_audio":
            if self.d.check_audio():  # a press says "try the sound card now"
                self.audio_ready()
        elif self.current is None:
            return
        elif self.check is not None:
            self.switch_asked = True
            self.stats.joined += 1
        elif self.fading is not None or self.clock.monotonic() - self.last_check_end < JOIN_S:
            self.stats.joined += 1
            if self.fading is None and self.next is not None:
                self._switch(self.next)  # the lead check just chose: switch to its choice
        else:
            self.switch_asked = True
            self._start_check("press")

    def _switch(self, queued: Queued) -> None:
        fade = self.config.audio.fade_s
        if self.paused or fade <= 0 or not self.player.is_playing():
            self._advance(queued)
            return
        self.next, self.fading = None, queued
        self._fade_steps = max(1, round(fade / FADE_STEP_S))
        self._fade_done = 0
        self.d.at("fade", FADE_STEP_S)

    def _fade_step(self) -> None:
        if self.fading is None:
            return
        self._fade_done += 1
        self.player.set_fade(1 - self._fade_done / self._fade_steps)
        if self._fade_done >= self._fade_steps:
            self._advance(self.fading)
        else:
            self.d.at("fade", FADE_STEP_S)

    def hold(self, event: object = None) -> None:
        """Button hold: pause, or resume."""
        self.events.emit("button", action="hold")
        if self.current is None or not self.play.announced:
            return
        if self.paused:
            self.paused = False
            if self.ended_while_paused:
                self.ended_while_paused = False
                self.report.set_mode("playing")
                self._ended()
                return
            self.player.resume()
            self.play.resumed()
            self.report.set_mode("playing")
        else:
            self.paused = True
            if self.fading is not None:  # a pause stops a switch under way; it waits
                self.next, self.fading = self.fading, None
                self.d.at("fade", None)
                self.player.set_fade(1.0)
            self.player.pause()
            self.play.paused()
            self.report.set_mode("paused")

    def _choose(self, reading: MoodReading | None, note: str = "") -> Choice:
        rules = self.config.rules
        self.undecided = 0 if reading is not None and reading.decided else self.undecided + 1
        choice = choose_next(reading, self.current, self.tracks, self.history, rules,
                             undecided=self.undecided)
        track = choice.track
        reason = f"{choice.reason}; {note}" if note else choice.reason
        self.events.emit("track_chosen", path=track.path, valence=track.valence,
                         energy=track.energy, strategy=rules.strategy, reason=reason)
        return choice
