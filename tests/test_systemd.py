"""The sd_notify module against real AF_UNIX datagram sockets, path and abstract."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.daemon import systemd


@pytest.fixture(autouse=True)
def fresh_module_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test starts with no inherited systemd variables and the "warned once" flag clear.
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(systemd, "_warned", threading.Event())


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket at a file path, with NOTIFY_SOCKET pointing at it."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock`` (AF_UNIX delivery is synchronous, so no waiting)."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode("utf-8"))
        except BlockingIOError:
            return messages


def test_each_call_sends_its_message(listener: socket.socket) -> None:
    assert systemd.ready()
    assert systemd.status("playing Blue in Green (Miles Davis)")
    assert systemd.watchdog()
    assert systemd.stopping()
    assert systemd.extend_timeout(30)
    assert received(listener) == [
        "READY=1",
        "STATUS=playing Blue in Green (Miles Davis)",
        "WATCHDOG=1",
        "STOPPING=1",
        "EXTEND_TIMEOUT_USEC=30000000",
    ]


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"moodbox-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.ready()
        assert received(sock) == ["READY=1"]


def test_status_is_one_line_and_bounded(listener: socket.socket) -> None:
    systemd.status("playing\nTitle  with\ttabs\n")
    systemd.status("x" * 5000)
    first, second = received(listener)
    assert first == "STATUS=playing Title with tabs"
    assert second == "STATUS=" + "x" * 400


def test_status_keeps_non_ascii(listener: socket.socket) -> None:
    systemd.status("playing Für Elise — Beethoven")
    assert received(listener) == ["STATUS=playing Für Elise — Beethoven"]


def test_generic_notify_joins_fields(listener: socket.socket) -> None:
    assert systemd.notify("READY=1", "STATUS=up")
    assert received(listener) == ["READY=1\nSTATUS=up"]


def test_no_socket_is_a_quiet_no_op(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.setblocking(False)
        with caplog.at_level(logging.DEBUG, logger="appliance.daemon.systemd"):
            assert not systemd.ready()
            assert not systemd.status("x")
            assert not systemd.watchdog()
            assert not systemd.stopping()
        assert received(sock) == []
    assert caplog.records == []


def test_send_failure_is_logged_once_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    with caplog.at_level(logging.WARNING, logger="appliance.daemon.systemd"):
        for _ in range(3):
            assert not systemd.watchdog()
    assert len(caplog.records) == 1
    assert "gone.sock" in caplog.records[0].getMessage()


def test_socket_closed_by_systemd_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.sock"
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        assert systemd.ready()
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="appliance.daemon.systemd"):
        assert not systemd.watchdog()
    assert len(caplog.records) == 1


def test_relative_socket_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "notify.sock")
    with caplog.at_level(logging.WARNING, logger="appliance.daemon.systemd"):
        assert not systemd.ready()
    assert "neither an absolute path" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("20000000", None, 20.0),
        ("20000000", "self", 20.0),
        ("1500000", "self", 1.5),
        ("20000000", "other", None),
        ("20000000", "garbage", None),
        ("0", None, None),
        ("-5", None, None),
        ("20s", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid == "self":
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    elif pid == "other":
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    elif pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", pid)
    assert systemd.watchdog_interval() == expected
