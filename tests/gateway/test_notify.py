"""The notify protocol against a socket that plays systemd: exact datagrams, a watchdog paced
by the ticks alone, and a daemon that nothing here can stall or crash. No sleeps: times are
passed in, and a non-blocking `recv` proves that nothing more was sent."""

import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.ops.notify import Notifier

RECEIVE_TIMEOUT_S = 5.0


@pytest.fixture
def systemd() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket and its `NOTIFY_SOCKET` value. In a short temporary folder:
    an AF_UNIX path is at most 107 bytes, which pytest's `tmp_path` can exceed."""
    with tempfile.TemporaryDirectory(prefix="luciole-") as folder:
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(RECEIVE_TIMEOUT_S)
            yield sock, path


def _received(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def _nothing_more(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(RECEIVE_TIMEOUT_S)
    return False


def test_each_state_is_one_datagram_of_exact_fields(systemd: tuple[socket.socket, str]) -> None:
    sock, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    notifier.ready("running, 24 segments")
    assert _received(sock) == "READY=1\nSTATUS=running, 24 segments"
    notifier.ready_again("reloaded")
    assert _received(sock) == "READY=1\nSTATUS=reloaded"
    notifier.stopping()
    assert _received(sock) == "STOPPING=1"
    notifier.status("waiting for the broker")
    assert _received(sock) == "STATUS=waiting for the broker"
    notifier.watchdog()
    assert _received(sock) == "WATCHDOG=1"
    assert _nothing_more(sock)


def test_reloading_carries_the_monotonic_clock_in_microseconds(
    systemd: tuple[socket.socket, str],
) -> None:
    sock, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    before_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading("reloading site.yaml")
    after_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, stamp, status = _received(sock).split("\n")
    assert first == "RELOADING=1"
    assert stamp.startswith("MONOTONIC_USEC=")
    assert before_us <= int(stamp.removeprefix("MONOTONIC_USEC=")) <= after_us
    assert status == "STATUS=reloading site.yaml"


def test_a_status_stays_on_one_line(systemd: tuple[socket.socket, str]) -> None:
    """A newline in the text would start a field of its own (`READY=1` from a payload)."""
    sock, path = systemd
    Notifier.from_environ({"NOTIFY_SOCKET": path}).status("broker down\nREADY=1\r\n")
    assert _received(sock) == "STATUS=broker down READY=1"


def test_the_abstract_namespace() -> None:
    name = f"luciole-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(RECEIVE_TIMEOUT_S)
        Notifier.from_environ({"NOTIFY_SOCKET": f"@{name}"}).ready("up")
        assert _received(sock) == "READY=1\nSTATUS=up"


def test_without_notify_socket_nothing_happens(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "2000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    notifier.ready("up")
    notifier.reloading()
    notifier.ready_again()
    notifier.status("x")
    notifier.watchdog()
    notifier.tick(0.0)
    notifier.stopping()
    assert not caplog.records


def test_the_watchdog_interval_is_for_our_pid_only(systemd: tuple[socket.socket, str]) -> None:
    _, path = systemd
    ours = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
    assert Notifier.from_environ(ours).watchdog_interval_s == 2.0
    mine = {**ours, "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_environ(mine).watchdog_interval_s == 2.0
    parents = {**ours, "WATCHDOG_PID": str(os.getppid())}
    assert Notifier.from_environ(parents).watchdog_interval_s is None
    assert Notifier.from_environ({"NOTIFY_SOCKET": path}).watchdog_interval_s is None
    assert Notifier.from_environ({**ours, "WATCHDOG_USEC": "soon"}).watchdog_interval_s is None


def test_ticks_ping_at_most_every_half_interval(systemd: tuple[socket.socket, str]) -> None:
    sock, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    for now_s in (100.0, 100.3, 100.9, 101.0, 101.5, 101.99, 102.0):
        notifier.tick(now_s)
    assert [_received(sock) for _ in range(3)] == ["WATCHDOG=1"] * 3  # 100.0, 101.0, 102.0
    assert _nothing_more(sock)


def test_a_stalled_loop_stops_the_pings(systemd: tuple[socket.socket, str]) -> None:
    """Ticks at 0, 0.5 and 1.2 s, then none: two pings (0 and 1.2), and nothing sends later
    on its own, so systemd's timer runs out and it restarts the service."""
    sock, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    for now_s in (0.0, 0.5, 1.2):
        notifier.tick(now_s)
    assert [_received(sock), _received(sock)] == ["WATCHDOG=1", "WATCHDOG=1"]
    assert _nothing_more(sock)


def test_a_vanished_socket_is_said_once_then_quiet(
    systemd: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    os.unlink(path)
    with caplog.at_level(logging.WARNING, logger="luciole.gateway"):
        notifier.ready("up")
        notifier.status("still up")
        notifier.tick(0.0)
    assert len(caplog.records) == 1
    assert "notification failed" in caplog.records[0].getMessage()
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None


def test_a_full_socket_drops_messages_without_blocking_or_going_quiet(
    systemd: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    """systemd busy: the kernel's queue fills (net.unix.max_dgram_qlen datagrams); sends
    fail at once instead of stalling the event loop, and the pings resume once it drains."""
    sock, path = systemd
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    queue_length = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    with caplog.at_level(logging.WARNING, logger="luciole.gateway"):
        for _ in range(2 * queue_length + 10):
            notifier.status("busy")
    assert len(caplog.records) == 1
    assert "dropped" in caplog.records[0].getMessage()
    while not _nothing_more(sock):
        pass
    notifier.watchdog()
    assert _received(sock) == "WATCHDOG=1"


def test_an_address_we_cannot_reach_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="luciole.gateway"):
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"})
        notifier.ready("up")
    assert len(caplog.records) == 1
    assert not notifier.enabled
