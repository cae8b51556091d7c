"""The daemon's session on a virtual clock: a clock, a loop, a player and a check runner that
implement ``appliance.daemon.ports`` without threads or waiting, so that a race between a
check, the end of a track, the button and a stop replays exactly, in milliseconds.

``VirtualLoop.run_until(t)`` serves queued events first and then the earliest deadline,
moving the clock straight to it. ``FakePlayer`` (``fake_player``) and ``FakeCheckRunner``
schedule their news on the same clock and have drivers (``lengths``, ``corrupt``,
``lose_output()``, a check plan). ``simulate()`` assembles a ``Session`` over a real
library, state file and event log.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from appliance.config import Config
from appliance.daemon.events import EventLog, Timer
from appliance.daemon.fake_player import FakePlayer
from appliance.daemon.ports import CameraSwitched, CheckDone
from appliance.daemon.report import Reporter
from appliance.daemon.session import Session
from appliance.daemon.state import StateFile
from appliance.daemon.virtual_clock import VirtualClock
from appliance.errors import ApplianceError
from appliance.mood.reading import MoodReading
from appliance.music.history import History
from appliance.music.library import Library

Post = Callable[[object], None]


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
