"""Metrics in a registry of their own, and the loopback /metrics and /healthz server."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.ops.metrics import HealthServer, Metrics
from gateway.store.spool import SpoolStats

WAIT_S = 5.0


class Health:
    """A health check whose verdict (or failure) the test can change."""

    def __init__(self) -> None:
        self.verdict = (True, "")
        self.error: Exception | None = None

    def __call__(self) -> tuple[bool, str]:
        if self.error is not None:
            raise self.error
        return self.verdict


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
async def server(health: Health) -> AsyncIterator[HealthServer]:
    metrics = Metrics()
    metrics.message("native", "accepted")
    running = HealthServer(metrics, health, "127.0.0.1", 0)
    await running.start()
    yield running
    await running.stop()


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` raw; the status, headers and body the server answered before closing."""
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("ascii").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split(" ")[1]), headers, body


async def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    return await exchange(port, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())


def test_metrics_text_has_labelled_counters_after_calls() -> None:
    """Every method shows up in the exposition under its luciole_ name and labels."""
    metrics = Metrics()
    metrics.message("native", "accepted")
    metrics.message("chirpstack", "rejected", "invalid_json")
    metrics.command(3)
    metrics.reconnect()
    metrics.connected(True)
    metrics.spool(
        SpoolStats(rows=10, unwritten=4, oldest_unwritten_ts_s=100.0, size_bytes=2048), 160.0
    )
    metrics.stored(4, 0.02)
    text = metrics.render().decode()
    for line in (
        'luciole_messages_total{format="native",outcome="accepted"} 1.0',
        'luciole_messages_total{format="native",outcome="rejected"} 0.0',
        'luciole_messages_total{format="chirpstack",outcome="rejected"} 1.0',
        'luciole_rejections_total{reason="invalid_json"} 1.0',
        "luciole_lamp_commands_total 3.0",
        "luciole_reconnects_total 1.0",
        "luciole_broker_connected 1.0",
        "luciole_spool_unwritten_readings 4.0",
        "luciole_spool_oldest_unwritten_age_seconds 60.0",
        "luciole_spool_size_bytes 2048.0",
        "luciole_storage_stored_readings_total 4.0",
        'luciole_storage_write_seconds_bucket{le="0.025"} 1.0',
        'luciole_storage_write_seconds_bucket{le="0.01"} 0.0',
    ):
        assert line in text.splitlines(), line


def test_an_empty_spool_has_no_age() -> None:
    """No unwritten reading means an age of 0, not a stale value or a missing series."""
    metrics = Metrics()
    metrics.spool(SpoolStats(rows=3, unwritten=0, oldest_unwritten_ts_s=None, size_bytes=1), 50.0)
    assert "luciole_spool_oldest_unwritten_age_seconds 0.0" in metrics.render().decode()


def test_unknown_outcomes_and_stray_reasons_are_refused() -> None:
    """Label values stay a known set: a fourth outcome, or a reason when accepted, raise."""
    metrics = Metrics()
    with pytest.raises(ValueError, match="outcome must be one of"):
        metrics.message("native", "lost")
    with pytest.raises(ValueError, match="only a rejected message has a reason"):
        metrics.message("native", "accepted", "invalid_json")


def test_two_instances_do_not_share_values() -> None:
    """Each Metrics has its own registry: counting in one leaves the other at zero."""
    first, second = Metrics(), Metrics()
    first.reconnect()
    first.connected(True)
    assert "luciole_reconnects_total 1.0" in first.render().decode()
    assert "luciole_reconnects_total 0.0" in second.render().decode()
    assert "luciole_broker_connected 0.0" in second.render().decode()


async def test_metrics_endpoint_serves_the_exposition(server: HealthServer) -> None:
    """GET /metrics is 200 with Prometheus's content type and the counters in the body."""
    status, headers, body = await get(server.port, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert int(headers["Content-Length"]) == len(body)
    assert b'luciole_messages_total{format="native",outcome="accepted"} 1.0' in body


async def test_healthz_is_200_when_healthy_and_503_with_the_reason(
    server: HealthServer, health: Health
) -> None:
    """The verdict of healthy() decides the status; the reason is the 503 body."""
    assert (await get(server.port, "/healthz"))[::2] == (200, b"ok\n")
    health.verdict = (False, "broker not connected")
    assert (await get(server.port, "/healthz"))[::2] == (503, b"broker not connected\n")


async def test_unknown_path_is_404_and_other_methods_405(server: HealthServer) -> None:
    """Only the two endpoints exist, and only for GET."""
    assert (await get(server.port, "/admin"))[0] == 404
    post = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    status, headers, _ = await exchange(server.port, post)
    assert (status, headers["Allow"]) == (405, "GET")


@pytest.mark.parametrize(
    "garbage",
    [b"\x16\x03\x01 hello\r\n\r\n", b"GET\r\n\r\n", b"GET metrics HTTP/1.1\r\n\r\n", b"A" * 9000],
)
async def test_a_bad_request_is_400_and_the_next_client_is_served(
    server: HealthServer, garbage: bytes
) -> None:
    """Garbage or an oversized head gets 400; the server keeps answering afterwards."""
    assert (await exchange(server.port, garbage))[0] == 400
    assert (await get(server.port, "/healthz"))[0] == 200


async def test_a_failing_health_check_is_500_not_a_crash(
    server: HealthServer, health: Health
) -> None:
    """A bug in healthy() answers 500 and the next request is still served."""
    health.error = RuntimeError("a bug in the daemon's health check")
    assert (await get(server.port, "/healthz"))[0] == 500
    assert (await get(server.port, "/metrics"))[0] == 200


async def test_a_silent_client_is_dropped_after_the_timeout(health: Health) -> None:
    """A client that sends nothing is disconnected, without an answer, once the timeout passes."""
    server = HealthServer(Metrics(), health, port=0, timeout_s=0.05)
    await server.start()
    try:
        async with asyncio.timeout(WAIT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
    finally:
        await server.stop()


async def test_stop_ends_open_connections_and_the_listener(health: Health) -> None:
    """stop() returns with a client mid-request, ends its connection and stops listening."""
    server = HealthServer(Metrics(), health, "127.0.0.1", 0)
    await server.start()
    port = server.port
    async with asyncio.timeout(WAIT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metr")  # half a request: the handler waits for the rest
        await writer.drain()
        await server.stop()
        # If stop() came before the server read our bytes, a reset ends it just as well.
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read() == b""
        writer.close()
        with pytest.raises(ConnectionError):
            await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "localhost", "gateway.local"])
def test_a_non_loopback_bind_is_refused(health: Health, host: str) -> None:
    """Unauthenticated endpoints only bind loopback IPs; the error says why."""
    with pytest.raises(ValueError, match=r"loopback.*no authentication"):
        HealthServer(Metrics(), health, host, 0)


async def test_ipv6_loopback_is_accepted(health: Health) -> None:
    """::1 is loopback too; the port is known only once bound."""
    server = HealthServer(Metrics(), health, "::1", 0)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    await server.start()
    try:
        assert server.port > 0
    finally:
        await server.stop()
