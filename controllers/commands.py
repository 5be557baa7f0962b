"""Which segments get a command now: changes beyond the dead-band, on/off flips, and refreshes."""

import numpy as np

from controllers.topology import BoolArray, FloatArray, IntArray


class CommandFilter:
    """Remembers what each lamp was last told and when."""

    def __init__(self, size: int) -> None:
        self._sent_level = np.full(size, np.nan)  # NaN: never told anything, so always send
        self._sent_s = np.full(size, -np.inf)

    def due(self, level: FloatArray, now_s: float, deadband: float, refresh_s: float) -> IntArray:
        """Indices to send; marks them sent at `now_s`."""
        with np.errstate(invalid="ignore"):
            changed = np.abs(level - self._sent_level) > deadband
        switched = (level > 0) != (self._sent_level > 0)
        stale = (now_s - self._sent_s) >= refresh_s
        due: BoolArray = changed | switched | stale | np.isnan(self._sent_level)
        chosen = np.flatnonzero(due)
        self._sent_level[chosen] = level[chosen]
        self._sent_s[chosen] = now_s
        return chosen

    def forget(self) -> None:
        """Resend everything on the next call (after a reconnect the broker may have lost it)."""
        self._sent_level[:] = np.nan
