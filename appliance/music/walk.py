"""Finding audio files under a folder, surviving symlink loops and unreadable folders."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from appliance.music.tags import AUDIO_SUFFIXES


def find_audio(root: Path, problems: list[str]) -> Iterator[Path]:
    """Yield every audio file under ``root``, following symlinks.

    Each folder is entered once, whatever links lead to it, so symlink loops end. Hidden
    entries (names starting with ".", such as macOS "._song.mp3" files) are skipped.

    Args:
        root: the folder to walk.
        problems: receives one line per folder that could not be read or was a loop.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                problems.append(f"{folder}: skipped, it links back to a folder already scanned")
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            problems.append(f"{folder}: cannot read the folder: {exc.strerror or exc}")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                stack.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in AUDIO_SUFFIXES:
                if _is_regular(entry):
                    yield Path(entry.path)
                else:
                    problems.append(f"{entry.path}: skipped, not a regular file (a pipe or "
                                    "a device); copy the music itself into the folder")


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file (through links): a FIFO or a link to /dev/zero would block or never
    end a tag read, so only regular files are indexed. A dangling link counts as a file, so
    that the scan records it as unreadable (its read fails at once, it cannot block)."""
    try:
        return stat.S_ISREG(os.stat(entry.path).st_mode)
    except OSError:
        return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; a dangling link is not a folder
    except OSError:
        return False
