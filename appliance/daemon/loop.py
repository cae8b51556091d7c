"""The appliance daemon: one event queue, one consumer thread, a dict of handlers.

Other threads (gpiozero's, VLC's, the library scanner, signal handlers) only ``post()`` a
frozen event; the loop in ``run()`` is the only code that touches VLC, the camera and the
model. Its own deadlines (the lead-window check, rescans, audio retries) are kept in a small
table and checked every time the loop wakes; the loop also wakes at least every half
watchdog interval to ping systemd.

Resources start in dependency order (state file, LED, library, history, button, player,
mood-check runner, scanner) and are closed in reverse in ``finally``, each through its
idempotent ``close()``.
The music decisions themselves live in ``appliance.daemon.session``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.config import Config
from appliance.daemon import systemd
from appliance.daemon.events import ButtonHeld, ButtonPressed, EventLog, Shutdown, Timer
from appliance.daemon.moodchecks import ThreadCheckRunner
from appliance.daemon.ports import Clock, SystemClock
from appliance.daemon.report import Reporter
from appliance.daemon.scanner import LibraryScanner
from appliance.daemon.session import Session
from appliance.daemon.state import StateFile
from appliance.errors import ApplianceError, ConfigError, LibraryError, PlaybackError
from appliance.hw.button import MoodButton
from appliance.hw.led import StatusLed
from appliance.music.history import History
from appliance.music.library import Library
from appliance.music.player import DEFAULT_CACHING_MS, VlcPlayer, probe_output

log = logging.getLogger(__name__)

#: Fade on SIGTERM is capped, and skipped when a long step (a mood check) already used the
#: time, so that the whole stop stays within 2 s.
STOP_FADE_MAX_S = 0.8
STOP_FADE_BY_S = 1.0
#: Waits between tries to open a missing audio device: 1, 2, 4 ... 60 s.
AUDIO_RETRY_S = (1.0, 60.0)
#: How often to look for music when there is none and ``library.rescan_s`` is 0.
EMPTY_RESCAN_S = 60.0
#: How often history.keep_days is applied again: a box runs for months without a restart.
PRUNE_EVERY_S = 86400.0
_IDLE_WAIT_S = 3600.0


class Daemon:
    """The appliance; ``run()`` blocks until ``stop()`` and returns an exit code.

    Args:
        config: the effective configuration.
        events: where decisions go; default: an ``EventLog`` on ``daemon.events``.
        caching_ms: VLC's file caching (tests use less, for short tracks).
        clock: the clock of the loop's deadlines.
    """

    def __init__(self, config: Config, events: EventLog | None = None,
                 caching_ms: int = DEFAULT_CACHING_MS, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.queue: queue.Queue[object] = queue.Queue()
        self.events = events if events is not None else EventLog(config.daemon.events)
        self.caching_ms = caching_ms
        self.empty_rescan_s = EMPTY_RESCAN_S
        self.session: Session | None = None
        self.button: MoodButton | None = None
        self._scanner: LibraryScanner | None = None
        self._history: History | None = None
        self._timers: dict[str, float] = {}
        self._stop = threading.Event()
        self._stop_asked = time.monotonic()
        self._audio_wait = AUDIO_RETRY_S[0]
        # The session adds its own handlers (button, player, checks, scans) at start.
        self._handlers: dict[type, Callable[[Any], None]] = {
            Shutdown: self._on_shutdown,
            Timer: self._on_timer,
        }
        self._timer_handlers: dict[str, Callable[[], None]] = {
            "audio": self._try_audio,
            "rescan": self._rescan,
            "prune": self._prune,
        }

    def post(self, event: object) -> None:
        """Queue an event for the loop; safe from any thread."""
        self.queue.put(event)

    def stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to fade out, stop and return; safe from any thread."""
        if not self._stop.is_set():
            self._stop_asked = time.monotonic()
        self._stop.set()
        self.post(Shutdown(reason))

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called (long steps check it to cut themselves short)."""
        return self._stop.is_set()

    def at(self, name: str, delay_s: float | None) -> None:
        """Arm the deadline ``name`` in ``delay_s`` seconds (None disarms it)."""
        if delay_s is None:
            self._timers.pop(name, None)
        else:
            self._timers[name] = self.clock.monotonic() + max(0.0, delay_s)

    def run(self) -> int:
        """Start everything, serve events until stopped, close everything.

        Returns:
            0 after a requested stop, 2 when the configuration cannot be used (e.g. a pin),
            1 after an unexpected error (logged with its traceback).
        """
        code = 0
        with contextlib.ExitStack() as stack:
            try:
                self._start(stack)
                self._loop()
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("%s", problem)
                self.events.emit("error", component="config", message="; ".join(exc.problems))
                code = 2
            except ApplianceError as exc:  # e.g. libvlc missing: one clear line, no traceback
                log.error("%s", exc)
                self.events.emit("error", component="daemon", message=str(exc))
                code = 1
            except Exception as exc:
                log.exception("daemon failed")
                self.events.emit("error", component="daemon", message=repr(exc))
                code = 1
            finally:
                self._shutdown()
        return code

    # ---- start and stop -------------------------------------------------------------

    def _start(self, stack: contextlib.ExitStack) -> None:
        config = self.config
        stack.callback(self.events.close)
        state = stack.enter_context(contextlib.closing(StateFile(config.daemon.state_file)))
        led = stack.enter_context(StatusLed(config.camera.led_pin, config.gpio.pin_factory))
        led.blink_slow()
        systemd.status("starting")
        check_debug_dir(config.camera.debug_dir)
        library = stack.enter_context(Library(config.library.database))
        history = stack.enter_context(
            History.from_config(config))
        self._history = history
        self._prune()
        if self.stopping:  # a stop while starting: skip the heavy rest (VLC, the models)
            return
        self.button = stack.enter_context(
            MoodButton(config.gpio.button_pin, config.gpio.hold_s,
                       on_press=lambda: self.post(ButtonPressed()),
                       on_hold=lambda: self.post(ButtonHeld()),
                       factory=config.gpio.pin_factory))
        player = stack.enter_context(
            VlcPlayer(self.post, config.audio.output, config.audio.device,
                      config.audio.volume, self.caching_ms))
        runner = ThreadCheckRunner(config, led, self.post)
        stack.callback(runner.close)
        if self.stopping:
            return
        runner.load()
        if self.stopping:
            return
        report = Reporter(self.events, state, led)
        self.session = session = Session(self, config, report, library, player, runner,
                                         self.clock, history)
        self._handlers.update(session.handlers())
        session.start()
        scanner = LibraryScanner(library, config.library.music_dir, self.post, session.upcoming)
        stack.callback(scanner.close)
        self._scanner = scanner
        scanner.request()  # incremental, in the background: known tracks play at once
        if config.library.rescan_s > 0:
            self.at("rescan", config.library.rescan_s)
        self._try_audio()

    def _shutdown(self) -> None:
        """Fade and stop the music first; the ExitStack then closes the rest in reverse."""
        systemd.stopping()
        self.events.emit("stopping")
        if self.session is not None:
            left = STOP_FADE_BY_S - (time.monotonic() - self._stop_asked)
            self.session.stop_music(max(0.0, min(self.config.audio.fade_s, STOP_FADE_MAX_S,
                                                 left)))

    # ---- the loop -------------------------------------------------------------------

    def _loop(self) -> None:
        interval = systemd.watchdog_interval() if self.config.daemon.watchdog else None
        ping_every = interval / 2 if interval else None
        while not self._stop.is_set():
            wait = self._next_wait(ping_every)
            try:
                event: object | None = self.queue.get(timeout=wait)
            except queue.Empty:
                event = None
            if ping_every is not None:
                systemd.watchdog()
            if event is not None:
                self._guarded(self._handlers[type(event)], event)
            self._fire_due_timers()

    def _guarded(self, handler: Callable[[Any], None], event: object) -> None:
        """Run one handler; an appliance error (a database locked too long, a file gone) is
        reported and the loop goes on. Anything else is a bug: it ends ``run()`` with exit
        code 1, and systemd restarts the service."""
        try:
            handler(event)
        except ApplianceError as exc:
            log.error("while handling %s: %s", type(event).__name__, exc)
            self.events.emit("error", component="daemon", message=str(exc))

    def _next_wait(self, ping_every: float | None) -> float:
        wait = _IDLE_WAIT_S
        if self._timers:
            wait = min(wait, min(self._timers.values()) - self.clock.monotonic())
        if ping_every is not None:
            wait = min(wait, ping_every)
        return max(0.0, wait)

    def _fire_due_timers(self) -> None:
        now = self.clock.monotonic()
        for name in [n for n, due in self._timers.items() if due <= now]:
            del self._timers[name]
            self._guarded(self._on_timer, Timer(name))

    # ---- handlers -------------------------------------------------------------------

    def _on_timer(self, event: Timer) -> None:
        handler = self._timer_handlers.get(event.name)
        if handler is None and self.session is not None:
            handler = self.session.timer_handler(event.name)
        if handler is not None:
            handler()

    def _on_shutdown(self, event: Shutdown) -> None:
        log.info("stopping: %s", event.reason)

    def _prune(self) -> None:
        """Apply history.keep_days, now and then once a day."""
        if self._history is not None:
            try:
                self._history.prune()
            except LibraryError as exc:  # the music goes on; tried again tomorrow
                log.warning("%s", exc)
        self.at("prune", PRUNE_EVERY_S)

    def _rescan(self) -> None:
        if self._scanner is not None:
            self._scanner.request()
        if self.config.library.rescan_s > 0:
            self.at("rescan", self.config.library.rescan_s)

    def request_rescan(self, delay_s: float | None = None) -> None:
        """Scan now (None), or in ``delay_s`` seconds (used while there is no music)."""
        if delay_s is None:
            self._rescan()
        else:
            self.at("rescan", delay_s)

    def check_audio(self) -> bool:
        """Whether the audio output opens; if not, the session is told to wait and a retry
        is armed with backoff (1, 2, 4 ... 60 s)."""
        assert self.session is not None
        audio = self.config.audio
        try:
            probe_output(audio.output, audio.device)
        except PlaybackError as exc:
            wait = self._audio_wait
            self._audio_wait = min(wait * 2, AUDIO_RETRY_S[1])
            self.at("audio", wait)
            self.session.wait_audio(str(exc), wait)
            return False
        self.at("audio", None)
        self._audio_wait = AUDIO_RETRY_S[0]
        return True

    def _try_audio(self) -> None:
        if self.check_audio():
            assert self.session is not None
            self.session.audio_ready()


def check_debug_dir(folder: Path | None) -> None:
    """Refuse to start when ``camera.debug_dir`` is set but cannot be written (every reading
    would otherwise be lost to a failed write).

    Raises:
        ConfigError: with one line naming the folder and the reason.
    """
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError([f"camera.debug_dir = {str(folder)!r}: cannot write there "
                           f"({exc.strerror or exc}); fix it, or set it to \"\""]) from exc
