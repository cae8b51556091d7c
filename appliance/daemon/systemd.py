"""A tiny sd_notify client: tells systemd when the daemon is ready, what it is doing, that it
is still alive, and that it is stopping.

Standard library only (an AF_UNIX datagram to ``$NOTIFY_SOCKET``, which may be a path or an
abstract ``@name``), so the service needs neither libsystemd nor a C extension. Every function
is a no-op when ``NOTIFY_SOCKET`` is unset (a terminal, a test, the demo), and none of them
raises: a lost notification must never take the music down, so a send failure is logged once
and then ignored.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)

# A datagram this small always fits the socket buffer; STATUS= text beyond it is cut short.
_MAX_STATUS = 400

_warned = threading.Event()


def _address(value: str) -> str | None:
    """The socket address for ``value`` (``@name`` is Linux's abstract namespace), or None."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(*fields: str) -> bool:
    """Sends one notification made of ``KEY=value`` fields, a line each.

    Args:
        fields: such as ``"READY=1"`` or ``"STATUS=playing"``.

    Returns:
        True if the datagram was sent; False when there is no socket or the send failed.
    """
    value = os.environ.get("NOTIFY_SOCKET", "")
    if not value:
        return False
    address = _address(value)
    if address is None:
        _warn_once("NOTIFY_SOCKET=%r is neither an absolute path nor @abstract", value)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
    except OSError as exc:
        _warn_once("cannot notify systemd at %s: %s", value, exc)
        return False
    return True


def _warn_once(message: str, *args: object) -> None:
    # The watchdog pings every few seconds; one warning in the journal says it all.
    if not _warned.is_set():
        _warned.set()
        log.warning(message + " (further failures are not logged)", *args)


def ready() -> bool:
    """Tells systemd that start-up is complete (``READY=1``); ``Type=notify`` waits for it."""
    return notify("READY=1")


def status(text: str) -> bool:
    """Sets the one line ``systemctl status`` shows (``STATUS=``).

    Args:
        text: free text for a person; newlines become spaces, long text is cut short.
    """
    line = " ".join(text.split())[:_MAX_STATUS]
    return notify(f"STATUS={line}")


def watchdog() -> bool:
    """Pings the watchdog (``WATCHDOG=1``); call it from the event loop, not from a thread
    of its own, so that a stalled loop stops the pings and systemd restarts the service."""
    return notify("WATCHDOG=1")


def stopping() -> bool:
    """Tells systemd that the daemon is shutting down (``STOPPING=1``)."""
    return notify("STOPPING=1")


def extend_timeout(seconds: float) -> bool:
    """Asks for more start-up (or stop) time (``EXTEND_TIMEOUT_USEC=``), counted from now.

    Useful while the daemon waits for the sound card at boot before sending ``READY=1``.

    Args:
        seconds: how much longer systemd should wait before it gives up.
    """
    return notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}")


def watchdog_interval() -> float | None:
    """The watchdog timeout systemd set for this process (``WatchdogSec=``), in seconds.

    Ping at least twice per interval (sd_watchdog_enabled(3) advises half of it).

    Returns:
        The timeout, or None when no watchdog is set, the value is not a positive integer,
        or ``WATCHDOG_PID`` names another process (the variables were inherited).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000
