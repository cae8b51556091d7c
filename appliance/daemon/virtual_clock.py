"""A clock for the daemon's tests and soak: it moves only when told, and runs the callbacks
that fall due on the way (the ``Clock`` of ``appliance.daemon.ports``, virtually)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


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
