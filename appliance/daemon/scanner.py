"""Background library scans, so that a big library never delays the music.

The scanner thread only scans when asked (the daemon's loop keeps the timetable) and reports
each pass by posting a ``LibraryScanned`` event; the library itself is safe to share between
threads (SQLite in WAL mode, one lock).

After each scan the same thread estimates valence and energy from the audio of the tracks that
have no tagged, imported or hand-set values (``appliance.music.estimate``), at a lower CPU
priority (the thread's own nice value), and posts a ``LibraryScanned`` when some are done so
the choice of next track uses them. A scan request interrupts the estimates between tracks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from appliance.daemon.events import LibraryScanned
from appliance.errors import LibraryError, ModelError
from appliance.music.estimate import ValenceEstimator, estimate_pending, model_version
from appliance.music.library import Library

log = logging.getLogger(__name__)

#: Files between progress reports during a scan (the library commits in batches of 200).
PARTIAL_EVERY = 200
#: Tracks estimated between reports (each refreshes the session's track list).
ESTIMATED_EVERY = 25
#: Added to the scanner thread's nice value, so estimating never starves playback.
NICE = 10


class LibraryScanner:
    """A thread that rescans ``music_dir`` into ``library`` each time ``request()`` is called.

    Args:
        library: the open library.
        music_dir: the folder to scan.
        post: called with a ``LibraryScanned`` after each pass; must only enqueue.
        soon: the paths about to be played (read from this thread), estimated first.
    """

    def __init__(self, library: Library, music_dir: Path, post: Callable[[object], None],
                 soon: Callable[[], Sequence[str]] | None = None):
        self._library = library
        self._soon = soon
        self._music_dir = music_dir
        self._post = post
        self._first = False  # the library had no playable track when this scan began
        self._no_estimates = False  # the model could not be loaded: said once, not retried
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="library-scan", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Scan again as soon as the current pass (if any) is done."""
        self._wake.set()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # on Linux each thread has its own nice value
            os.nice(NICE)
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            self._post(self._scan_once())
            self._estimate()

    def _estimate(self) -> None:
        """Estimate the pending tracks until done or a new request (or close) comes."""
        if self._no_estimates:
            return
        estimator = None
        try:
            # Loaded only for a pass with tracks to estimate, and released after it: the
            # tagger's interpreter holds about 100 MiB, and new files come seldom (the
            # library is rescanned every minute by default). The version is read afresh
            # (12 ms), so a model file replaced under a running daemon is still noticed.
            if not self._library.pending_estimates(model_version()):
                return
            estimator = ValenceEstimator()
            done, failed = estimate_pending(self._library, estimator, self._estimated,
                                            lambda: self._wake.is_set() or self._stop.is_set(),
                                            self._soon)
        except ModelError as exc:
            log.error("no valence estimates: %s", exc)
            self._no_estimates = True
        except Exception:  # estimates must never take the thread (and rescans) down
            log.exception("estimating valence failed")
        else:
            if done:
                self._post(LibraryScanned(changed=True, summary=f"{done} tracks estimated, "
                                          f"{failed} could not be ({estimator.version})"))
        finally:
            if estimator is not None:
                estimator.close()

    def _estimated(self, count: int, total: int) -> None:
        if count % ESTIMATED_EVERY == 0 and count < total:
            self._post(LibraryScanned(changed=True, summary=f"{count} of {total} estimated"))

    def _progress(self, done: int, total: int, path: str) -> None:
        # On a first scan of a big folder, let the music start before the scan ends: the
        # library commits every few hundred files, and each such step is announced.
        if self._first and done % PARTIAL_EVERY == 0 and done < total:
            self._post(LibraryScanned(changed=True, summary=f"{done} of {total} files so far"))

    def _scan_once(self) -> LibraryScanned:
        try:
            self._first = not self._library.tracks()
            report = self._library.scan(self._music_dir, self._progress)
        except LibraryError as exc:
            return LibraryScanned(changed=False, summary="", error=str(exc))
        except Exception as exc:  # a scan must never take the thread (and rescans) down
            log.exception("library scan failed")
            return LibraryScanned(changed=False, summary="", error=f"scan failed: {exc!r}")
        changed = bool(report.added or report.updated or report.removed)
        summary = (
            f"{report.found} files: {report.added} added, {report.updated} updated, "
            f"{report.removed} removed, {len(report.unreadable)} unreadable "
            f"({report.seconds:.1f} s)"
        )
        return LibraryScanned(changed=changed, summary=summary)

    def close(self, timeout: float = 0.5) -> None:
        """Stop the thread; a scan in progress finishes its current file batch on its own
        (the thread is a daemon thread, so it never holds up the exit). Idempotent."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
