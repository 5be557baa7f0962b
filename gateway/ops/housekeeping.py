"""What the daemon does on the side: refresh spool figures for /metrics, serve /metrics and
/healthz when a port is configured."""

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.logs import event
from gateway.ops.metrics import HealthServer, Metrics
from gateway.store.spool import Spool

REFRESH_S = 5.0

log = logging.getLogger("luciole.gateway")


class Housekeeping:
    """Runs until cancelled; the HTTP server (if any) is stopped on the way out."""

    def __init__(
        self,
        spool: Spool,
        metrics: Metrics,
        port: int | None,
        healthy: Callable[[], tuple[bool, str]],
        limits: tuple[int, float | None] = (1 << 30, None),
    ) -> None:
        self._quota_bytes, self._retention_s = limits
        self._spool = spool
        self._metrics = metrics
        self._server = HealthServer(metrics, healthy, port=port) if port is not None else None

    @property
    def port(self) -> int | None:
        return self._server.port if self._server is not None else None

    async def run(self) -> None:
        if self._server is not None:
            await self._server.start()
        try:
            while True:
                await asyncio.to_thread(self._enforce)  # SQLite: off the loop
                stats = await asyncio.to_thread(self._spool.stats)
                self._metrics.spool(stats, time.time())
                await asyncio.sleep(REFRESH_S)
        finally:
            if self._server is not None:
                await self._server.stop()

    def _enforce(self) -> None:
        done = self._spool.enforce(self._quota_bytes, self._retention_s, time.time())
        if done.rows_deleted_unwritten:
            event(
                log,
                logging.ERROR,
                "spool full: oldest readings not yet in the database were "
                "deleted; check the database connection or raise spool_quota_mb",
                deleted=done.rows_deleted_unwritten,
                size_bytes=done.size_bytes,
            )
