"""Time as the daemon sees it: injected, so tests and the simulator can run it faster."""

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Epoch seconds and sleeping, in the same (possibly accelerated) time."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time for production."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
