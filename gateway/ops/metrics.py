"""What an operator's Prometheus scrapes: the daemon's counters, and a tiny loopback HTTP server.

`Metrics` owns its own `CollectorRegistry` (no global state, see DESIGN.md), so two daemons in
one process, or two tests, never see each other's numbers. `HealthServer` answers `GET /metrics`
and `GET /healthz` and nothing else; it binds loopback only because neither endpoint is
authenticated (reach it from elsewhere through a reverse proxy or an SSH tunnel).
"""

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from gateway.store.spool import SpoolStats

log = logging.getLogger("luciole.observe")

# ignored: a device of another district (`run --district`), left to its daemon.
OUTCOMES = ("accepted", "duplicate", "rejected", "ignored")
# A batch to a local VictoriaMetrics takes milliseconds; a remote InfluxDB on a bad uplink can
# take the writer's whole timeout. Buckets span 1 ms to 30 s so both ends stay readable.
WRITE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
MAX_HEAD_BYTES = 8192  # a scraper's request is a few hundred bytes; anything bigger is not one
CLIENT_TIMEOUT_S = 5.0  # a client that stalls must not hold a connection open for ever
TEXT = "text/plain; charset=utf-8"


class Metrics:
    """The daemon's instruments, in a registry of their own; `render()` is the scrape body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_spool: tuple[SpoolStats, float] | None = None  # (stats, as of)
        self._formats: set[str] = set()
        self._messages = self._counter(
            "messages_total",
            "MQTT messages received, by wire format and outcome (accepted, duplicate, rejected, "
            "ignored: another district's device).",
            ["format", "outcome"],
        )
        self._rejections = self._counter(
            "rejections_total",
            "Messages refused, by reason (shed: over their source's budget, not decoded).",
            ["reason"],
        )
        self._clocks = self._counter(
            "clock_implausible_total",
            "Readings whose device time was implausible, stored at their receive time instead.",
        )
        self._commands = self._counter("lamp_commands_total", "Lamp level commands published.")
        self._foreign = self._counter(
            "foreign_commands_total",
            "Lamp commands the daemon did not send, seen on its command topics and corrected.",
        )
        self._overrides = self._counter(
            "overrides_total", "Operator overrides, by outcome (applied, rejected).", ["outcome"]
        )
        self._reconnects = self._counter(
            "reconnects_total", "Times the broker connection was lost or refused and retried."
        )
        self._connected = self._gauge(
            "broker_connected", "1 while the daemon is connected to the MQTT broker, else 0."
        )
        self._unwritten = self._gauge(
            "spool_unwritten_readings", "Readings in the spool not yet written to the database."
        )
        self._oldest_age = self._gauge(
            "spool_oldest_unwritten_age_seconds",
            "Age of the oldest reading not yet written to the database (0 when none wait).",
        )
        self._size = self._gauge("spool_size_bytes", "Size of the spool files on disk.")
        self._stored = self._counter(
            "storage_stored_readings_total", "Readings written to the time-series database."
        )
        self._write_time = Histogram(
            "luciole_storage_write_seconds",
            "Time taken by one batch write to the time-series database.",
            buckets=WRITE_BUCKETS_S,
            registry=self.registry,
        )

    def _counter(self, name: str, help_text: str, labels: list[str] | None = None) -> Counter:
        return Counter(f"luciole_{name}", help_text, labels or [], registry=self.registry)

    def _gauge(self, name: str, help_text: str) -> Gauge:
        return Gauge(f"luciole_{name}", help_text, registry=self.registry)

    def message(self, format: str, outcome: str, reason: str | None = None, n: int = 1) -> None:
        """Count `n` messages; rejected ones are also counted under their reason."""
        if outcome not in OUTCOMES:
            # Label values are series: an unchecked string would grow them without bound.
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if reason is not None and outcome != "rejected":
            raise ValueError(f"only a rejected message has a reason (got {outcome!r}, {reason!r})")
        if format not in self._formats:
            # Create every outcome at 0 so rate(...{outcome="rejected"}) works before the first
            # rejection, instead of the series appearing out of nowhere.
            for each in OUTCOMES:
                self._messages.labels(format, each)
            self._formats.add(format)
        self._messages.labels(format, outcome).inc(n)
        if outcome == "rejected":
            self._rejections.labels(reason or "unspecified").inc(n)

    def messages(self, tally: Mapping[tuple[str, str, str | None], int]) -> None:
        """Count many messages at once, by (format, outcome, reason): a counter update takes
        a lock and a label lookup, more than a busy daemon should spend per message."""
        for (format, outcome, reason), n in tally.items():
            self.message(format, outcome, reason, n)

    def clock_implausible(self) -> None:
        self._clocks.inc()

    def command(self, n: int) -> None:
        self._commands.inc(n)

    def foreign_command(self) -> None:
        self._foreign.inc()

    def override(self, outcome: str) -> None:
        """One override, `applied` or `rejected` (the rejections also count by reason)."""
        self._overrides.labels(outcome).inc()

    def reconnect(self) -> None:
        self._reconnects.inc()

    def connected(self, up: bool) -> None:
        self._connected.set(1 if up else 0)

    def spool(self, stats: SpoolStats, now_s: float) -> None:
        """Publish the spool's state as of `now_s` (the daemon's clock); kept for the console,
        which must not query the spool from the event loop either."""
        self.last_spool = (stats, now_s)
        self._unwritten.set(stats.unwritten)
        oldest = stats.oldest_unwritten_ts_s
        # A sensor clock ahead of ours would give a negative age; "nothing late" is what it means.
        self._oldest_age.set(0.0 if oldest is None else max(0.0, now_s - oldest))
        self._size.set(stats.size_bytes)

    def stored(self, n: int, seconds: float) -> None:
        """One batch of `n` readings reached the database in `seconds`."""
        self._stored.inc(n)
        self._write_time.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of this instance's registry."""
        return generate_latest(self.registry)


class HealthServer:
    """`GET /metrics` and `GET /healthz` over HTTP/1.1 on loopback, one request per connection.

    `healthy()` returns (ok, reason); the reason is the 503 body an operator reads. It runs in
    the event loop on every probe, so it should read state the daemon keeps, not query the spool.
    """

    def __init__(
        self,
        metrics: Metrics,
        healthy: Callable[[], tuple[bool, str]],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_s: float = CLIENT_TIMEOUT_S,
    ) -> None:
        _require_loopback(host)
        self._metrics = metrics
        self._healthy = healthy
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._server: asyncio.Server | None = None
        self._stopping = False
        # Open connections, so stop() can end them: cancelling the handler task instead makes
        # Python 3.11's stream callback log a spurious error.
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def port(self) -> int:
        """The port actually bound (useful with `port=0`)."""
        if self._server is None:
            raise RuntimeError("the health server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._stopping = False
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_HEAD_BYTES
        )

    async def stop(self) -> None:
        """Stop listening, drop open connections and wait for their handlers to finish."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for writer in self._clients.values():
            writer.transport.abort()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # asyncio runs every connection handler in a task
        if self._stopping:
            writer.transport.abort()  # accepted just before stop(), which is not waiting for it
            return
        self._clients[task] = writer
        try:
            async with asyncio.timeout(self._timeout_s):
                writer.write(await self._response(reader))
                await writer.drain()
            writer.close()
        except Exception as error:  # a client's failure is never the daemon's: note it, move on
            log.debug("health client dropped: %r", error)
        finally:
            if not writer.is_closing():
                writer.transport.abort()  # not close(): it would wait on a client not reading
            del self._clients[task]

    async def _response(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return _http(HTTPStatus.BAD_REQUEST, b"request head too large\n")
        request = _request_line(head)
        if request is None:
            return _http(HTTPStatus.BAD_REQUEST, b"bad request\n")
        try:
            return self._route(*request)
        except Exception:  # our bug, not the client's: say so loudly, keep serving
            log.exception("health endpoint failed")
            return _http(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n")

    def _route(self, method: str, path: str) -> bytes:
        if path not in ("/metrics", "/healthz"):
            return _http(HTTPStatus.NOT_FOUND, b"not found; try /metrics or /healthz\n")
        if method != "GET":
            return _http(HTTPStatus.METHOD_NOT_ALLOWED, b"only GET\n", allow="GET")
        if path == "/metrics":
            return _http(HTTPStatus.OK, self._metrics.render(), CONTENT_TYPE_LATEST)
        ok, reason = self._healthy()
        if ok:
            return _http(HTTPStatus.OK, b"ok\n")
        return _http(HTTPStatus.SERVICE_UNAVAILABLE, f"{reason}\n".encode())


def _require_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: what it resolves to is not ours to trust
        loopback = False
    if not loopback:
        raise ValueError(
            f"the health server only binds a loopback IP address such as 127.0.0.1 or ::1, "
            f"not {host!r}: /metrics and /healthz have no authentication; expose them "
            "through a reverse proxy or an SSH tunnel"
        )


def _request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path without query) from `GET /path HTTP/1.1`, or None if it is not one."""
    try:
        method, target, version = head.split(b"\r\n", 1)[0].decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError):
        return None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        return None
    return method, target.partition("?")[0]


def _http(status: HTTPStatus, body: bytes, content_type: str = TEXT, allow: str = "") -> bytes:
    headers = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",  # one request per connection keeps the server this small
        *([f"Allow: {allow}"] if allow else []),
    ]
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + body
