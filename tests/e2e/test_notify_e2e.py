"""`luciole run` under systemd (played by a datagram socket in NOTIFY_SOCKET): READY once
connected and subscribed, the watchdog fed from the control loop, RELOADING then READY around
a SIGHUP, STOPPING on SIGTERM."""

import asyncio
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BrokerInfo
from tests.e2e.support import TIMEOUT_S, running_daemon, write_site


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    """The socket systemd listens on for a Type=notify service."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


async def _until(sock: socket.socket, wanted: str) -> list[str]:
    """The messages received until one that starts with `wanted`, that one included."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    async with asyncio.timeout(TIMEOUT_S):
        while not (seen and seen[-1].startswith(wanted)):
            seen.append((await loop.sock_recv(sock, 4096)).decode())
    return seen


async def test_the_daemon_speaks_systemds_notify_protocol(
    tmp_path: Path,
    broker: BrokerInfo,
    systemd: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site_id = f"notify-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # 2 s: a ping at least every second
    async with running_daemon(site) as daemon:
        ready = (await _until(systemd, "READY=1"))[-1]
        assert f"STATUS=serving {site_id}: 5 segments" in ready
        await _until(systemd, "WATCHDOG=1")
        await _until(systemd, "WATCHDOG=1")  # fed again: the control loop goes on
        daemon.send_signal(signal.SIGHUP)
        reloading = await _until(systemd, "RELOADING=1")
        assert "MONOTONIC_USEC=" in reloading[-1]
        assert (await _until(systemd, "READY=1"))[-1].startswith("READY=1\nSTATUS=serving")
        daemon.send_signal(signal.SIGTERM)
        assert (await _until(systemd, "STOPPING=1"))[-1].startswith("STOPPING=1")
        await daemon.wait()
    assert daemon.returncode == 0


async def test_an_ingest_worker_feeds_the_watchdog_without_a_control_tick(
    tmp_path: Path,
    broker: BrokerInfo,
    systemd: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--role ingest` has no control loop, yet says READY=1 and pings the watchdog, so
    systemd's WatchdogSec= does not kill a healthy worker."""
    site = write_site(tmp_path, broker, f"notify-{uuid.uuid4().hex[:8]}", "30%")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    async with running_daemon(site, args=("--role", "ingest", "--worker", "1")) as worker:
        await _until(systemd, "READY=1")
        await _until(systemd, "WATCHDOG=1")
        await _until(systemd, "WATCHDOG=1")
        worker.send_signal(signal.SIGTERM)
        await worker.wait()
    assert worker.returncode == 0
