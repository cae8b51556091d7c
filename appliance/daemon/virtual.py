"""The daemon's session on a virtual clock: a clock, a loop, a player and a check runner that
implement ``appliance.daemon.ports`` without threads or waiting, so that a race between a
check, the end of a track, the button and a stop replays exactly, in milliseconds.

``VirtualLoop.run_until(t)`` serves queued events first and then the earliest deadline,
moving the clock straight to it. ``FakePlayer`` and ``FakeCheckRunner`` schedule their news
on the same clock and have drivers (``lengths``, ``corrupt``, ``lose_output()``, a check
plan). ``simulate()`` assembles a ``Session`` over a real library, state file and event log.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from appliance.config import Config
from appliance.daemon.events import EventLog, PlayerEvent, Timer
from appliance.daemon.ports import CameraSwitched, CheckDone
from appliance.daemon.report import Reporter
from appliance.daemon.session import Session
from appliance.daemon.state import StateFile
from appliance.errors import ApplianceError
from appliance.mood.reading import MoodReading
from appliance.music.history import History
from appliance.music.library import Library

Post = Callable[[object], None]


class VirtualClock:
    """A clock that moves only when told; also a table of callbacks due at given times."""

    def __init__(self, start: float = 0.0, epoch: float = 1_750_000_000.0) -> None:
        self.now, self.epoch = start, epoch
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()

    def monotonic(self) -> float:
        """Virtual seconds."""
        return self.now

    def time(self) -> float:
        """Virtual unix time."""
        return self.epoch + self.now

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        """Run ``fn`` once the clock reaches ``when``; returns a handle for ``cancel``."""
        handle = next(self._seq)
        heapq.heappush(self._heap, (max(when, self.now), handle, fn))
        return handle

    def cancel(self, handle: int) -> None:
        """Forget a callback (no-op if it already ran)."""
        self._cancelled.add(handle)

    def next_due(self) -> float | None:
        """When the next live callback is due, or None."""
        while self._heap and self._heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._heap)[1])
        return self._heap[0][0] if self._heap else None

    def run_next(self) -> None:
        """Move the clock to the next callback and run it."""
        if self.next_due() is None:
            return
        when, _, fn = heapq.heappop(self._heap)
        self.now = max(self.now, when)
        fn()


class VirtualLoop:
    """The loop's part (``Scheduler``) on a ``VirtualClock``: named timers, a queue, the
    audio retries with backoff, and the dispatch to the session."""

    empty_rescan_s = 60.0

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.queue: deque[object] = deque()
        self.session: Session | None = None
        self.stopping = False
        self.audio_up: Callable[[], bool] = lambda: True
        self.on_rescan: Callable[[], None] = lambda: None
        self.rescans = 0
        self.errors: list[str] = []
        self._timers: dict[str, int] = {}
        self._audio_wait = 1.0

    def at(self, name: str, delay_s: float | None) -> None:
        """Arm (or with None disarm) the deadline ``name``."""
        old = self._timers.pop(name, None)
        if old is not None:
            self.clock.cancel(old)
        if delay_s is not None:
            def due() -> None:
                self._timers.pop(name, None)
                self.post(Timer(name))
            self._timers[name] = self.clock.call_at(self.clock.now + max(0.0, delay_s), due)

    def armed(self, name: str) -> bool:
        """Whether the deadline ``name`` is armed."""
        return name in self._timers

    def post(self, event: object) -> None:
        """Queue an event."""
        self.queue.append(event)

    def request_rescan(self, delay_s: float | None = None) -> None:
        """Count a rescan now (and call ``on_rescan``), or arm one."""
        if delay_s is not None:
            self.at("rescan", delay_s)
            return
        self.rescans += 1
        self.on_rescan()

    def check_audio(self) -> bool:
        """Ask ``audio_up()``; when it says no, the session waits and a retry is armed."""
        assert self.session is not None
        if self.audio_up():
            self.at("audio", None)
            self._audio_wait = 1.0
            return True
        wait, self._audio_wait = self._audio_wait, min(self._audio_wait * 2, 60.0)
        self.at("audio", wait)
        self.session.wait_audio("the fake output is gone", wait)
        return False

    def dispatch(self, event: object) -> None:
        """Hand one event to its handler; appliance errors are recorded, as the daemon does."""
        session = self.session
        assert session is not None
        try:
            if isinstance(event, Timer):
                handler = {"audio": self._retry_audio, "rescan": self.request_rescan}.get(
                    event.name) or session.timer_handler(event.name)
                if handler is not None:
                    handler()
            else:
                session.handlers()[type(event)](event)
        except ApplianceError as exc:
            self.errors.append(str(exc))

    def _retry_audio(self) -> None:
        assert self.session is not None
        if self.check_audio():
            self.session.audio_ready()

    def run_until(self, when: float) -> None:
        """Serve events and deadlines until the clock reaches ``when``."""
        while True:
            while self.queue:
                self.dispatch(self.queue.popleft())
            due = self.clock.next_due()
            if due is None or due > when:
                self.clock.now = max(self.clock.now, when)
                return
            self.clock.run_next()

    def run_for(self, seconds: float) -> None:
        """``run_until(now + seconds)``."""
        self.run_until(self.clock.now + seconds)


class FakePlayer:
    """A ``Player`` on the virtual clock, with drivers.

    Attributes:
        lengths: real length per path (default ``default_s``).
        reported: the length it claims per path, if not the real one.
        corrupt: paths with a good header whose audio ends at once.
        output: "ok", or after ``lose_output``: "stall" (position stops, no end) or "early"
            (every track ends at once), both silent and without an error.
        spans: (start, end) of each stretch of audible sound, for measuring silences.
    """

    def __init__(self, clock: VirtualClock, post: Post, default_s: float = 200.0,
                 start_s: float = 0.05, early_s: float = 0.3) -> None:
        self.clock, self.post = clock, post
        self.default_s, self.start_s, self.early_s = default_s, start_s, early_s
        self.lengths: dict[str, float] = {}
        self.reported: dict[str, float] = {}
        self.corrupt: set[str] = set()
        self.output = "ok"
        self.spans: list[tuple[float, float]] = []
        self.played: list[str] = []
        self.volume = 1.0
        self._token = 0
        self._path: str | None = None
        self._pos = 0.0
        self._since: float | None = None
        self._handles: list[int] = []
        self._heard_since: float | None = None

    @property
    def token(self) -> int:
        """The token of the track started last."""
        return self._token

    def lose_output(self, mode: str = "stall") -> None:
        """The sound card goes away ("stall" or "early"); nothing says so."""
        self._pos = self.position_s()
        self.output = mode
        if self._since is not None:
            self._since = self.clock.now
            self._cancel()
            if mode == "early":
                self._at(0.01, "ended")
        self._heard()

    def restore_output(self) -> None:
        """The sound card is back (what plays stays stalled until played again)."""
        self.output = "ok"

    def prepare(self, path: str) -> None:
        """Nothing to do ahead of time."""

    def play(self, path: str) -> int:
        """Start ``path``: "playing" after ``start_s``, "ended" near its length."""
        self._drop()
        self._token += 1
        self._path, self._pos, self.volume = path, 0.0, 1.0
        self.played.append(path)
        if not os.path.isfile(path):
            self._at(0.01, "error")
            self._at(0.02, "ended")
        else:
            self._at(self.start_s, "playing")
        return self._token

    def _at(self, delay: float, kind: str) -> None:
        token = self._token

        def fire() -> None:
            if token != self._token:
                return
            if kind == "playing":
                self._since = self.clock.now
                self._schedule_end()
            elif kind == "ended":
                self._pos, self._since = self.position_s(), None
            self._heard()
            self.post(PlayerEvent(kind, token))
        self._handles.append(self.clock.call_at(self.clock.now + delay, fire))

    def _schedule_end(self) -> None:
        assert self._path is not None
        if self.output == "stall":
            return
        real = self.lengths.get(self._path, self.default_s)
        if self._path in self.corrupt or self.output == "early":
            real = 0.01
        self._at(max(0.0, real - self.early_s - self._pos), "ended")

    def _cancel(self) -> None:
        for handle in self._handles:
            self.clock.cancel(handle)
        self._handles.clear()

    def _drop(self) -> None:
        self._cancel()
        self._path, self._since = None, None
        self._heard()

    def _heard(self) -> None:
        audible = self._since is not None and self.output == "ok" and self.volume > 0
        if audible and self._heard_since is None:
            self._heard_since = self.clock.now
        elif not audible and self._heard_since is not None:
            self.spans.append((self._heard_since, self.clock.now))
            self._heard_since = None

    def set_fade(self, fraction: float) -> None:
        """One fade step."""
        self.volume = fraction
        self._heard()

    def fade_out(self, seconds: float) -> None:
        """Silent at once (the virtual stop needs no time)."""
        self.set_fade(0.0)

    def pause(self) -> None:
        """Pause: the position and the end wait."""
        if self._since is not None:
            self._pos, self._since = self.position_s(), None
            self._cancel()
            self._heard()

    def resume(self) -> None:
        """Resume after ``pause``."""
        if self._path is not None and self._since is None:
            self._since = self.clock.now
            self._schedule_end()
            self._heard()

    def stop(self) -> None:
        """Stop; later news carries a stale token."""
        self._token += 1
        self._drop()

    def is_playing(self) -> bool:
        """Playing, not paused, not ended."""
        return self._since is not None

    def position_s(self) -> float:
        """Seconds into the track (frozen while the output stalls)."""
        if self._since is None or self.output == "stall":
            return self._pos
        return self._pos + self.clock.now - self._since

    def length_s(self) -> float:
        """The claimed length (corrupt files keep their header's)."""
        if self._path is None:
            return 0.0
        return self.reported.get(self._path, self.lengths.get(self._path, self.default_s))

    def close(self) -> None:
        """Stop; idempotent."""
        self._drop()


@dataclass(frozen=True)
class FakeCheck:
    """What one fake check does: how long it takes, and its reading or failure."""

    seconds: float = 1.5
    reading: MoodReading | None = None
    error: str = ""
    component: str = "camera"
    opens: bool = True


@dataclass
class FakeCheckRunner:
    """A ``CheckRunner`` on the virtual clock: each check follows ``plan(number)``.

    The camera is on from the start to the end of each check that opens it, and the LED (if
    given) is lit for exactly that time, as ``MoodChecker`` does.
    """

    clock: VirtualClock
    post: Post
    plan: Callable[[int], FakeCheck] = lambda n: FakeCheck(reading=MoodReading("happy", 0.9))
    led: Any = None
    fault: str = ""
    started: list[int] = field(default_factory=list)
    cancelled: set[int] = field(default_factory=set)
    _busy_until: float = -1.0

    @property
    def available(self) -> str:
        """``fault``, settable by a test."""
        return self.fault

    @property
    def busy(self) -> bool:
        """Until the last check's camera is closed."""
        return self.clock.now < self._busy_until

    def start(self, check: int, token: int) -> None:
        """Schedule the check's camera events and result."""
        spec = self.plan(check)
        self.started.append(check)
        self._busy_until = self.clock.now + spec.seconds
        if spec.opens:
            if self.led is not None:
                self.led.on()
            self.post(CameraSwitched(check, True))

        def done() -> None:
            if spec.opens:
                if self.led is not None:
                    self.led.off()
                self.post(CameraSwitched(check, False))
            self.post(CheckDone(check, token, spec.reading, spec.error, spec.component))
        self.clock.call_at(self.clock.now + spec.seconds, done)

    def cancel(self, check: int) -> None:
        """Recorded; the result still comes and is dropped."""
        self.cancelled.add(check)

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Simulation:
    """A session on the virtual clock and its fakes."""

    clock: VirtualClock
    loop: VirtualLoop
    player: FakePlayer
    runner: FakeCheckRunner
    session: Session
    events: EventLog
    records: list[dict[str, Any]]
    history: History
    start: float = 0.0  # the clock's reading at the start: the events' "t" counts from it

    def named(self, event: str) -> list[dict[str, Any]]:
        """The records of ``event`` so far."""
        return [r for r in self.records if r["event"] == event]


class _Led:
    """A status LED that only remembers what it was told (a stand-in for ``StatusLed``)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.changes: list[tuple[float, str]] = []

    def _set(self, state: str) -> None:
        self.changes.append((self.clock.now, state))

    def on(self) -> None:
        self._set("on")

    def off(self) -> None:
        self._set("off")

    def blink_slow(self) -> None:
        self._set("slow")

    def blink_fast(self) -> None:
        self._set("fast")

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def simulate(config: Config, plan: Callable[[int], FakeCheck] | None = None,
             default_s: float = 200.0, player_start_s: float = 0.05, seed: int = 0,
             start: float = 0.0) -> Iterator[Simulation]:
    """A ``Session`` over the library, history, state file and events file that ``config``
    names, with the virtual clock (from ``start``: a restart goes on later), loop, player and
    checks; started (the first track is chosen). ``seed``: the learning's dice."""
    clock = VirtualClock(start)
    loop = VirtualLoop(clock)
    records: list[dict[str, Any]] = []
    led = _Led(clock)
    with Library(config.library.database) as library, \
            History(config.library.database, config.history, config.mood.circumplex,
                    clock=clock.time) as history, \
            EventLog(config.daemon.events, clock=clock.monotonic) as events:
        events.add_listener(lambda r: records.append(dict(r)))
        state = StateFile(config.daemon.state_file)
        player = FakePlayer(clock, loop.post, default_s=default_s, start_s=player_start_s)
        runner = FakeCheckRunner(clock, loop.post, led=led)
        if plan is not None:
            runner.plan = plan
        report = Reporter(events, state, led)  # type: ignore[arg-type]
        session = Session(loop, config, report, library, player, runner, clock, history,
                          random.Random(seed))
        loop.session = session
        loop.audio_up = lambda: player.output == "ok"
        session.start()
        if loop.check_audio():
            session.audio_ready()
        yield Simulation(clock, loop, player, runner, session, events, records, history, start)
