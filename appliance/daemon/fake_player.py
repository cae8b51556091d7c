"""``FakePlayer``: the ``Player`` port on the virtual clock, with drivers for the faults a
real sound card and real files bring (wrong lengths, corrupt audio, a lost output)."""

from __future__ import annotations

import os
from collections.abc import Callable

from appliance.daemon.events import PlayerEvent
from appliance.daemon.virtual_clock import VirtualClock

Post = Callable[[object], None]


class FakePlayer:
    """A ``Player`` on the virtual clock, with drivers.

    Attributes:
        lengths: real length per path (default ``default_s``).
        reported: the length it claims per path, if not the real one.
        corrupt: paths with a good header whose audio ends at once.
        hung: paths whose input hangs: neither "playing" nor "error" ever comes.
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
        self.hung: set[str] = set()
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
        elif path not in self.hung:
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
