"""A camera that plays back the images of a folder, in name order, looping.

For demos, tests and replays of recorded sessions. The position is kept between checks, so
each check sees the next images. Only files with an image suffix are used.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from appliance.errors import CameraUnavailable
from appliance.hw.camera import Camera
from appliance.hw.images import read_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
)


class FilesCamera(Camera):
    """Frames from the image files of ``folder``.

    Args:
        folder: the folder; it is listed again at every ``open()``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: list[Path] = []
        self._next = 0
        self.is_open = False

    def open(self) -> None:
        """Lists the folder.

        Raises:
            CameraUnavailable: the folder is missing or holds no image files.
        """
        try:
            files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:
            raise CameraUnavailable(
                f"camera files:{self.folder}: cannot list the folder ({exc.strerror})"
            ) from exc
        if not files:
            raise CameraUnavailable(
                f"camera files:{self.folder}: no image files "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder"
            )
        self._files = files
        self.is_open = True
        log.debug("files camera open: %d images in %s", len(files), self.folder)

    def capture(self) -> np.ndarray:
        """The next image as BGR uint8, wrapping around after the last.

        Raises:
            CameraUnavailable: the camera is closed or the file cannot be decoded.
        """
        if not self.is_open:
            raise CameraUnavailable(f"camera files:{self.folder} is not open")
        path = self._files[self._next % len(self._files)]
        self._next = (self._next + 1) % len(self._files)
        try:
            return read_image(path)
        except CameraUnavailable as exc:
            raise CameraUnavailable(f"camera files:{self.folder}: {exc}") from exc

    def close(self) -> None:
        """Forgets the listing; the position is kept for the next check."""
        self.is_open = False
        self._files = []
