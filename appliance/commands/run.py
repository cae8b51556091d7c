"""``moodbox run``: the appliance daemon, as the systemd service starts it."""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.commands import EXIT_CONFIG, add_config_argument, config_from_args
from appliance.daemon.events import EventLog

if TYPE_CHECKING:
    from appliance.daemon.loop import Daemon

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run the appliance: play music, check the mood near each track's end",
        description="Run the Moodbox daemon in the foreground until SIGTERM or Ctrl-C. "
        "Normally started by systemd as the moodbox user. The config is read at start; "
        "SIGHUP is ignored (restart to apply changes). A second daemon on the same library "
        "database is refused (exit 2).",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--events", type=Path, default=None, metavar="PATH",
        help="append every decision to PATH as JSON lines (overrides daemon.events)",
    )
    parser.add_argument(
        "--allow-root", action="store_true",
        help="run even as root (for tests and CI; the service runs as the moodbox user)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the daemon; its exit code, or 2 when refusing root or the config is bad."""
    early = _catch_early_signals()  # first: a SIGTERM while starting still exits 0
    if os.geteuid() == 0 and not args.allow_root:
        print("moodbox run: refusing to run as root; start the service (systemctl start "
              "moodbox), run as an ordinary user, or pass --allow-root", file=sys.stderr)
        return EXIT_CONFIG
    config = config_from_args(args)
    path = args.events if args.events is not None else config.daemon.events
    try:
        events = EventLog(path)
    except OSError as exc:
        print(f"moodbox run: cannot open the events file {path}: {exc.strerror}; "
              "check --events or daemon.events", file=sys.stderr)
        return EXIT_CONFIG
    if early:
        return 0  # stopped before the daemon existed
    from appliance.daemon.loop import Daemon  # the heavy part, after the handlers

    return leave(serve(Daemon(config, events), early))


def leave(code: int) -> int:
    """Return ``code``; but while a cancelled mood check still runs inside OpenCV or the model
    on its worker thread, end the process at once with ``code`` (everything else is closed by
    now): the interpreter's shutdown under a running native thread aborts (SIGABRT)."""
    if any(t.name == "mood-check" and t.is_alive() for t in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def lock_database(database: Path) -> int | None:
    """Hold an exclusive lock beside ``database`` for this process's lifetime.

    Returns:
        The lock file's descriptor (kept open: the lock goes with the process), or ``None``
        when another daemon holds it, after saying so on stderr.
    """
    path = database.with_name(database.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        print(f"moodbox: another Moodbox daemon (pid {holder}) is using {database}; stop it "
              "first (sudo systemctl stop moodbox), or give this one another "
              "library.database", file=sys.stderr)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def serve(daemon: Daemon, early: list[str] | None = None) -> int:
    """Run ``daemon`` on its own thread until SIGTERM or SIGINT; returns its exit code.

    The signal handlers run on the main thread and only call ``daemon.stop()``, which posts an
    event; the main thread otherwise just waits for the loop's thread to finish. SIGHUP is
    ignored with a log line (the config is read at start: restart to apply it), so a closed
    terminal or a stray ``kill -HUP`` never ends the daemon without its cleanup. A second
    daemon on the same library database is refused (exit 2).
    """
    try:
        lock = lock_database(daemon.config.library.database)
    except OSError as exc:
        print(f"moodbox: cannot lock {daemon.config.library.database}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_CONFIG
    if lock is None:
        return EXIT_CONFIG
    try:
        return _serve(daemon, early or [])
    finally:
        os.close(lock)


def _catch_early_signals() -> list[str]:
    """Until ``serve`` takes over, SIGTERM and SIGINT are only remembered (in the list), so a
    stop asked for while the daemon starts still ends it with exit code 0."""
    caught: list[str] = []

    def on_signal(number: int, frame: object) -> None:
        caught.append(signal.Signals(number).name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return caught


def _on_hangup(number: int, frame: object) -> None:
    log.warning("SIGHUP ignored: the configuration is read at start; restart to apply changes "
                "(sudo systemctl restart moodbox)")


def _serve(daemon: Daemon, early: list[str]) -> int:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), name="moodbox-loop")

    def on_signal(number: int, frame: object) -> None:
        daemon.stop(signal.Signals(number).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _on_hangup)
    if early:  # caught before the handlers above took over
        daemon.stop(early[0])
    try:
        thread.start()
        while thread.is_alive():
            thread.join(1.0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return result[0] if result else 1
