"""The camera port: a small protocol that every back-end implements.

Back-ends: ``picamera2`` (the Raspberry Pi camera), ``opencv:N`` (webcam N, or a video file
through OpenCV), ``files:DIR`` (the images of a folder in name order, looping) and, for tests
and the simulated appliance, ``FakeCamera`` in ``appliance.hw.fake``; ``appliance.hw.sources``
opens one by name. A camera object is made
closed; ``open()`` starts it (and waits for auto exposure where the hardware needs it),
``capture()`` returns one BGR uint8 frame, ``close()`` stops it and may be called again.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Camera(Protocol):
    """A camera that is switched on only while it is used.

    Back-ends subclass this to inherit the context manager. Errors are ``CameraUnavailable``.
    """

    def open(self) -> None:
        """Switches the camera on; frames can be captured until ``close()``."""
        ...

    def capture(self) -> np.ndarray:
        """One frame, BGR uint8 of shape (height, width, 3)."""
        ...

    def close(self) -> None:
        """Switches the camera off; safe to call when it is already closed."""
        ...

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
