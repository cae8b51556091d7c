"""What the daemon does with the music: play, check the mood near each track's end, choose,
queue, skip what cannot play, pause, and say so (events, state file, STATUS=, LED).

All of it runs on the daemon's one consumer thread. ``Daemon`` owns the queue, the timers and
the resources; ``Session`` holds the listening session's state and takes the decisions.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.config import Config
from appliance.daemon import systemd
from appliance.daemon.events import LibraryScanned, PlayerEvent
from appliance.daemon.moodchecks import MoodChecks
from appliance.daemon.report import Reporter
from appliance.errors import LibraryError, PlaybackError
from appliance.mood.reading import MoodReading
from appliance.music.library import Library, Track
from appliance.music.player import VlcPlayer
from appliance.music.rules import Choice, choose_next

if TYPE_CHECKING:
    from appliance.daemon.loop import Daemon

log = logging.getLogger(__name__)

#: A track that VLC starts with length 0 and that has not ended after this long is played
#: with the library's duration (VLC had no length yet); one that ends first is corrupt.
CONFIRM_S = 0.5
#: Tracks failing in a row before the audio output itself is suspected.
FAILURES_BEFORE_AUDIO_CHECK = 3
_HISTORY = 1000


class Session:
    """The listening session: current track, history, the queued choice, the last reading."""

    def __init__(self, daemon: Daemon, config: Config, report: Reporter, library: Library,
                 player: VlcPlayer) -> None:
        self.d, self.config, self.report = daemon, config, report
        self.library, self.player = library, player
        self.events, self.state = report.events, report.state
        self.checks = MoodChecks(config, report)
        self.tracks: list[Track] = library.tracks()
        self.current: Track | None = None
        self.history: list[Track] = []
        self.next: Choice | None = None
        self.reading: MoodReading | None = None
        self.announced = self.paused = self.audio_ok = self.ready_sent = False
        self.failures = 0  # tracks failed in a row
        self.scans = 0  # library scans taken in so far

    # ---- start-up and shut-down -----------------------------------------------------

    def load_checker(self) -> None:
        """Load the mood check (a failure is reported; the music plays without checks)."""
        self.checks.load()
        if self.checks.fault:
            self.report.show("fast")

    def close(self) -> None:
        """Release the camera and the models; idempotent."""
        self.checks.close()

    def stop_music(self, fade_s: float) -> None:
        """Fade out and stop (shutdown)."""
        self.report.set_mode("stopping")
        if self.player.is_playing():
            self.player.fade_out(fade_s)
        self.player.stop()

    # ---- waiting states -------------------------------------------------------------

    def wait_audio(self, why: str, retry_s: float) -> None:
        """The output cannot be opened: say so; the daemon retries in ``retry_s``."""
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

    def _wait_library(self) -> None:
        self.current = None
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

    def timer_handler(self, name: str) -> Callable[[], None] | None:
        """The handler of the session's deadline ``name`` ("lead" or "confirm")."""
        return {"lead": self._lead, "confirm": self._confirm}.get(name)

    def _advance(self, choice: Choice | None) -> None:
        """Play ``choice`` (or choose one without a reading); files that are gone are skipped."""
        while True:
            if choice is None:
                if not self.tracks:
                    self._wait_library()
                    return
                choice = self._choose(None)
            if self._play(choice.track):
                return
            choice = None

    def _play(self, track: Track) -> bool:
        self.next = None
        self.d.at("lead", None)
        self.d.at("confirm", None)
        if not os.path.isfile(track.path):
            self._skip(track, "file not found")
            return False
        self.current, self.announced, self.paused = track, False, False
        self.history = [*self.history[-_HISTORY:], track]
        try:
            self.player.play(track.path)
        except PlaybackError as exc:
            self._skip(track, str(exc))
            return False
        return True

    def on_player(self, event: PlayerEvent) -> None:
        """VLC news about the current track (news about replaced tracks is dropped)."""
        if event.token != self.player.token or self.current is None:
            return
        if event.kind == "playing" and not self.announced:
            length = self.player.length_s()
            if length > 0:
                self._announce(length)
            else:
                self.d.at("confirm", CONFIRM_S)
        elif event.kind == "ended":
            if self.announced:
                self._advance(self.next)
            else:
                self._skip_current("no audio in it (VLC read a length of 0)")
        elif event.kind == "error":
            self._skip_current("VLC cannot open or decode it")

    def _confirm(self) -> None:
        if self.current is not None and not self.announced and self.player.is_playing():
            self._announce(self.current.duration_s)

    def _announce(self, length: float) -> None:
        """The track really plays: record it (state first, so readers of an event find the
        state file already saying so), tell systemd, and arm the lead-window check."""
        track = self.current
        assert track is not None
        self.announced, self.failures = True, 0
        self.report.show(self.checks.led_pattern)
        self.state.update(track={"path": track.path, "title": track.title,
                                 "artist": track.artist, "valence": track.valence,
                                 "energy": track.energy, "length_s": round(length, 3)})
        self._schedule_lead(length - self.player.position_s())
        self.report.set_mode("playing")
        self.events.emit("track_started", path=track.path, title=track.title,
                         valence=track.valence, energy=track.energy, length_s=length)
        if not self.ready_sent:
            self.ready_sent = True
            systemd.ready()
            self.events.emit("ready", path=track.path)

    def _schedule_lead(self, remaining_s: float) -> None:
        delay = max(0.0, remaining_s - self.config.camera.lead_s)
        self.d.at("lead", delay)
        self.state.update(next_check_at=round(time.time() + delay, 3))

    def _skip(self, track: Track, why: str) -> None:
        self.events.emit("skipped", path=track.path, why=why)
        if self.history and self.history[-1].path == track.path:
            self.history.pop()  # never heard: it must not steer the direction
        try:
            self.library.mark_unplayable(track.path, why)
            self.tracks = self.library.tracks()
        except LibraryError as exc:
            log.warning("%s", exc)
            self.tracks = [t for t in self.tracks if t.path != track.path]
        self.failures += 1

    def _skip_current(self, why: str) -> None:
        assert self.current is not None
        self._skip(self.current, why)
        self.current = None
        if self.failures % FAILURES_BEFORE_AUDIO_CHECK == 0 and not self.d.check_audio():
            return  # the output is gone: the daemon retries and calls audio_ready()
        self._advance(self.next)

    # ---- mood checks, the button ----------------------------------------------------

    def _lead(self) -> None:
        """``camera.lead_s`` before the end: check, choose, and queue the next track."""
        if self.current is None or self.paused:
            return
        reading = self.checks.run()
        if self.d.stopping or self.current is None or not self.tracks:
            return  # no tracks left (all gone meanwhile): the end of this one will wait
        self.next = self._choose(reading)
        self.player.prepare(self.next.track.path)
        self.state.update(next_check_at=None)

    def check_now(self) -> None:
        """Button: check, choose, and switch now with a fade."""
        if self.report.mode == "waiting_library":
            self.d.request_rescan()
            return
        if self.current is None:
            return
        reading = self.checks.run()
        if self.d.stopping:
            return
        choice = self._choose(reading) if self.tracks else None
        if choice is None:
            return
        if not self.paused:
            self.player.fade_out(self.config.audio.fade_s)
        self._advance(choice)

    def toggle_pause(self) -> None:
        """Button hold: pause, or resume (the lead-window check waits while paused)."""
        if self.current is None or not self.announced:
            return
        if self.paused:
            self.paused = False
            self.player.resume()
            if self.next is None:
                self._schedule_lead(self.player.length_s() - self.player.position_s())
            self.report.set_mode("playing")
        else:
            self.paused = True
            self.player.pause()
            self.d.at("lead", None)
            self.state.update(next_check_at=None)
            self.report.set_mode("paused")

    def _choose(self, reading: MoodReading | None) -> Choice:
        rules = self.config.rules
        choice = choose_next(reading, self.current, self.tracks, self.history, rules)
        track = choice.track
        self.events.emit("track_chosen", path=track.path, valence=track.valence,
                         energy=track.energy, strategy=rules.strategy, reason=choice.reason)
        return choice
