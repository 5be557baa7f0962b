"""Simulated time that runs `speed` times faster than the wall clock.

The gateway takes any `gateway.wire.clock.Clock`; handing it this one lets a whole night run in a
minute while every component (gateway, lamps, walkers) agrees on what time it is.
"""

import asyncio
import time
from collections.abc import Callable


class AcceleratedClock:
    """Epoch seconds starting at `start_s` when built, advancing `speed` sim seconds per real one.

    Satisfies `gateway.wire.clock.Clock` structurally. The monotonic clock is used underneath
    so that a wall-clock adjustment (NTP step) cannot make simulated time jump.
    """

    def __init__(
        self, start_s: float, speed: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.start_s = start_s
        self.speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> float:
        return self.start_s + (self._monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        await asyncio.sleep(max(seconds, 0.0) / self.speed)
