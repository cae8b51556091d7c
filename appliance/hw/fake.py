"""A fake camera for tests and the simulated appliance, with a driver to queue frames."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from appliance.errors import CameraUnavailable
from appliance.hw.camera import Camera


class FakeCamera(Camera):
    """A camera whose frames are queued by the test or simulator.

    ``capture()`` returns queued frames in order; when the queue is empty it repeats the last
    frame (the scene did not change). A queued exception is raised by the ``capture()`` that
    reaches it, and ``fail_open`` makes the next ``open()`` fail, to drive error paths.

    Attributes:
        is_open: whether the camera is on now.
        opens: how many times it was opened.
        captures: frames returned so far.
    """

    def __init__(self) -> None:
        self._queue: deque[np.ndarray | BaseException] = deque()
        self._last: np.ndarray | None = None
        self._lock = threading.Lock()
        self._fail_open: BaseException | None = None
        self.is_open = False
        self.opens = 0
        self.captures = 0

    # Driver side -------------------------------------------------------------------------

    def queue_frame(self, frame: np.ndarray) -> None:
        """Adds a BGR uint8 frame (a grey one is converted) for a later ``capture()``."""
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise ValueError(f"want uint8 (H, W) or (H, W, 3), got {frame.dtype} {frame.shape}")
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        with self._lock:
            self._queue.append(frame.copy())

    def queue_error(self, error: BaseException) -> None:
        """Makes the ``capture()`` that reaches this point raise ``error``."""
        with self._lock:
            self._queue.append(error)

    def fail_open(self, error: BaseException | None = None) -> None:
        """Makes the next ``open()`` raise ``error`` (default ``CameraUnavailable``)."""
        self._fail_open = error or CameraUnavailable("fake camera: open failed as asked")

    # Camera side -------------------------------------------------------------------------

    def open(self) -> None:
        """Switches the fake on (or raises the error set by ``fail_open``)."""
        error, self._fail_open = self._fail_open, None
        if error is not None:
            raise error
        self.is_open = True
        self.opens += 1

    def capture(self) -> np.ndarray:
        """The next queued frame, or the last one again.

        Raises:
            CameraUnavailable: closed, or nothing was ever queued.
        """
        if not self.is_open:
            raise CameraUnavailable("fake camera is not open")
        with self._lock:
            item = self._queue.popleft() if self._queue else self._last
        if isinstance(item, BaseException):
            raise item
        if item is None:
            raise CameraUnavailable("fake camera: no frame queued")
        self._last = item
        self.captures += 1
        return item.copy()

    def close(self) -> None:
        """Switches the fake off; safe to call again."""
        self.is_open = False


class FakeClock:
    """A clock that moves only when slept on or told: the mood check's burst runs on it in
    tests and the simulated appliance, without waiting.

    Attributes:
        now: the current reading of ``monotonic()``.
        sleeps: every ``sleep()`` asked for, in order.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Virtual seconds."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Moves the clock on by ``seconds`` at once."""
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        """Driver: time passes (e.g. a capture that takes a while)."""
        self.now += seconds
