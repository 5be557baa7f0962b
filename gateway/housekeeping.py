"""What the daemon does on the side: refresh spool figures for /metrics, serve /metrics and
/healthz when a port is configured."""

import asyncio
import time
from collections.abc import Callable

from gateway.observe import HealthServer, Metrics
from gateway.spool import Spool

REFRESH_S = 5.0


class Housekeeping:
    """Runs until cancelled; the HTTP server (if any) is stopped on the way out."""

    def __init__(
        self,
        spool: Spool,
        metrics: Metrics,
        port: int | None,
        healthy: Callable[[], tuple[bool, str]],
    ) -> None:
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
                stats = await asyncio.to_thread(self._spool.stats)  # SQLite: off the loop
                self._metrics.spool(stats, time.time())
                await asyncio.sleep(REFRESH_S)
        finally:
            if self._server is not None:
                await self._server.stop()
