"""What the daemon does with the music: play, check the mood near each track's end, choose,
queue, skip what cannot play, pause, and say so (events, state file, STATUS=, LED).

All of it runs on the loop's one consumer thread, and reaches the world only through the
ports of ``appliance.daemon.ports`` (scheduler, player, clock, check runner), so the same code
runs under the daemon and on a virtual clock. Mood checks run elsewhere; their result comes
back as a ``CheckDone`` event carrying the check's number and the track's token. The rules:

- The lead check starts ``camera.lead_s`` before the end (``playing``: the track's clock;
  ``checkflow``: the checks). A track that ends before its check is done goes on to a choice
  made without a reading, and ``check_missed`` says why.
- A press checks and switches with a fade; a press during a check, a fade, or within
  ``JOIN_S`` of the last check joins it; the later gesture wins (``buttons``).
- The choice, and the record of checks, choices and plays with how each play ended
  (finished, skipped, failed, stopped), is ``choosing``'s.
- A track that the player neither starts nor fails in time, whose position stalls, whose end
  never comes or that ends long before its length counts as a failure of the file;
  ``FILE_FAILURES`` of them mark it unplayable (once may be a disk or a network share waking
  up, so a play to the end clears the count). Each first probes the audio output: a lost sound
  card is waited for the way start-up does, and the track is played again.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable

from appliance.config import Config
from appliance.daemon.buttons import Buttons
from appliance.daemon.checkflow import CHECK_TIMEOUT_S, JOIN_S, CheckFlow, Stats, _Check
from appliance.daemon.choosing import Chooser, Queued
from appliance.daemon.events import ButtonHeld, ButtonPressed, LibraryScanned, PlayerEvent
from appliance.daemon.moodchecks import MoodChecks
from appliance.daemon.playing import Playing
from appliance.daemon.ports import CameraSwitched, CheckDone, CheckRunner, Clock, Player, Scheduler
from appliance.daemon.report import Reporter
from appliance.errors import LibraryError, PlaybackError
from appliance.music.history import History
from appliance.music.library import Library, Track
from appliance.music.rules import Choice

__all__ = ["CHECK_TIMEOUT_S", "JOIN_S", "Queued", "Session", "Stats"]

log = logging.getLogger(__name__)

#: Tracks failing in a row before the audio output itself is suspected.
FAILURES_BEFORE_AUDIO_CHECK = 3
#: Failures of one file (no start, a stall, no end, an end long before its length) before it
#: is marked unplayable; a play to its end in between starts the count again.
FILE_FAILURES = 2


class Session:
    """The listening session: current track, history, the queued choice, the checks."""

    def __init__(self, loop: Scheduler, config: Config, report: Reporter, library: Library,
                 player: Player, runner: CheckRunner, clock: Clock,
                 history: History | None = None, rng: random.Random | None = None) -> None:
        self.d, self.config, self.report, self.clock = loop, config, report, clock
        self.library, self.player = library, player
        self.events, self.state = report.events, report.state
        self.checks = MoodChecks(report, runner, clock)
        self.tracks: list[Track] = library.tracks()
        self.chooser = Chooser(config, report.events, history, rng)
        self.chooser.restore(self.tracks)
        self.next: Queued | None = None
        self.fading: Queued | None = None
        self.play = Playing(self)
        self.flow = CheckFlow(self, self.checks)
        self.buttons = Buttons(self)
        self.paused = self.audio_ok = self.ended_while_paused = False
        self.failures = 0  # tracks failed in a row
        self.file_failures: dict[str, int] = {}  # per path, since the daemon started
        self.scans = 0  # library scans taken in so far
        self._choice_id: int | None = None  # the history row of the choice now playing

    @property
    def history(self) -> list[Track]:
        """The tracks played, newest last (taken back from the database at start)."""
        return self.chooser.played

    @property
    def check(self) -> _Check | None:
        """The check in flight, if any."""
        return self.flow.check

    @property
    def stats(self) -> Stats:
        """The checks' counters."""
        return self.flow.stats

    @property
    def current(self) -> Track | None:
        """The track started last (None between tracks)."""
        return self.play.track

    def handlers(self) -> dict[type, Callable[..., None]]:
        """The session's part of the loop's dispatch table."""
        return {ButtonPressed: self.buttons.press, ButtonHeld: self.buttons.hold,
                PlayerEvent: self.on_player, CheckDone: self.flow.on_check,
                CameraSwitched: self.checks.camera, LibraryScanned: self.on_scanned}

    def timer_handler(self, name: str) -> Callable[[], None] | None:
        """The handler of the session's deadline ``name``."""
        return {"start": self.play.start_due, "lead": self.flow.lead,
                "confirm": self.play.confirm, "fade": self.buttons.fade_step,
                "progress": self.play.progress, "check_timeout": self.flow.timeout}.get(name)

    # ---- start-up and shut-down -----------------------------------------------------

    def upcoming(self) -> list[str]:
        """The paths of the track playing and the one queued after it. Read by the scanner's
        thread: it only reads two references, so it needs no lock."""
        current, queued = self.current, self.next
        return [t.path for t in (current, queued.choice.track if queued else None) if t]

    def start(self) -> None:
        """Report a mood check that cannot run (the music plays without checks)."""
        if self.checks.fault:
            self.events.emit("error", component="model", message=self.checks.fault)
            self.report.show("fast")

    def stop_music(self, fade_s: float) -> None:
        """Cancel a running check, fade out and stop (shutdown)."""
        self.flow.cancel()
        self._end_play("stopped")
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
            self.advance(self.next)

    def audio_lost(self, why: str) -> None:
        """The output went away mid-track: stop, and play the track again once it is back."""
        track = self.current
        self.flow.cancel()
        self._end_play("stopped")
        self.play.stop()
        self.player.stop()
        if track is not None:
            self.next = Queued(Choice(track, f"played again, the audio output failed ({why})",
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
            self.advance(None)
        elif waiting and not self.tracks:
            self._wait_library()  # still nothing: look again later

    # ---- playing --------------------------------------------------------------------

    def advance(self, queued: Queued | None) -> None:
        """Play the queued choice (or one chosen now); a file that is gone is replaced by a
        choice made with the same reading."""
        reading = queued.reading if queued else None
        check_id = queued.check_id if queued else None
        note = ""
        while True:
            if queued is None:
                if not self.tracks:
                    self._wait_library()
                    return
                queued = self.chooser.choose(reading, self.current, self.tracks, note, check_id)
            if self._play(queued):
                return
            queued, note = None, "re-chosen with the same reading, the queued file is gone"

    def _play(self, queued: Queued) -> bool:
        track = queued.choice.track
        self.next = self.fading = None
        self.paused = self.ended_while_paused = False
        self.flow.cancel()
        self._end_play("skipped")  # still open: cut short by the button
        self.play.stop()
        self._choice_id = queued.choice_id
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
            self.ended()
        elif event.kind == "error":
            self.skip_current("VLC cannot open or decode it")

    def switch(self, queued: Queued) -> None:
        """Fade out and play ``queued`` (at once when paused or fades are off)."""
        self.buttons.switch(queued)

    def announced(self, track: Track) -> None:
        """The track really plays: it enters the history, and the LED says all is well."""
        self.failures = 0
        self.chooser.started(track, self._choice_id)
        self.report.show(self.checks.led_pattern)

    def ended(self) -> None:
        """The current track ended (or an end that came while paused is taken up now)."""
        if not self.play.announced:
            self.skip_current("no audio in it (VLC read a length of 0)")
            return
        if self.paused:
            self.ended_while_paused = True  # a hold just before the end: stay paused
            return
        if self.play.ended_early():
            return
        if self.current is not None:  # it played to its end: a past failure was not the file's
            self.file_failures.pop(self.current.path, None)
        self._end_play("finished", 1.0)
        if self.fading is not None:
            self.advance(self.fading)
            return
        if self.check is not None:
            self.flow.miss("the track ended before its mood check was done")
        elif self.next is None:
            self.flow.miss("the track ended before its check was due (its length was wrong)")
        self.advance(self.next)

    def _end_play(self, how: str, fraction: float | None = None) -> None:
        """Record the end of the play under way (if it was announced and is still open)."""
        if fraction is None:
            length = self.play.length
            fraction = self.play.played_s() / length if length > 0 else 0.0
        self.chooser.ended(how, fraction)

    def file_failed(self, why: str, verdict: str) -> None:
        """The current track never started, stalled, never ended or ended far too early: a
        lost output is waited for; else the file is given up for another track, and marked
        unplayable at its ``FILE_FAILURES``-th failure (saying ``verdict``)."""
        track = self.current
        assert track is not None
        if not self.d.check_audio():
            self.audio_lost(why)
            return
        self._end_play("failed")
        count = self.file_failures.get(track.path, 0) + 1
        self.file_failures[track.path] = count
        if count >= FILE_FAILURES:  # the output was probed just now: no second probe
            self._give_up(f"{why}, {count} times: {verdict}")
            self.advance(self.next)
            return
        self.flow.miss(f"{why} (a failure of the file, counted)")
        self.failures += 1
        self.advance(self.next)

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
        self._give_up(why)
        if self.failures % FAILURES_BEFORE_AUDIO_CHECK == 0 and not self.d.check_audio():
            return  # the output is gone: the loop retries and calls audio_ready()
        self.advance(self.next)

    def _give_up(self, why: str) -> None:
        assert self.current is not None
        self._skip(self.current, why)
        self.flow.cancel()
        self._end_play("failed")
        self.play.stop()
