"""Which segments get a command now: changes beyond the dead-band, on/off flips, and refreshes."""

import numpy as np

from controllers.topology import Float32Array, FloatArray, IntArray


class CommandFilter:
    """Remembers what each lamp was last told and when."""

    def __init__(self, size: int) -> None:
        # -inf: never told anything; any level is then farther than the dead-band, so it is sent.
        self._sent_level = np.full(size, -np.inf, dtype=np.float32)
        self._sent_s = np.full(size, -np.inf)
        self._scratch = np.zeros(size, dtype=np.float32)
        self._masks = (np.zeros(size, dtype=np.bool_), np.zeros(size, dtype=np.bool_))

    @property
    def sent_level(self) -> Float32Array:
        """What each lamp was last told (-inf: nothing yet)."""
        return self._sent_level

    @property
    def sent_s(self) -> FloatArray:
        """When each lamp was last told (-inf: never)."""
        return self._sent_s

    def due(self, level: Float32Array, now_s: float, deadband: float, refresh_s: float) -> IntArray:
        """Indices to send; marks them sent at `now_s`."""
        due, flip = self._masks
        np.subtract(level, self._sent_level, out=self._scratch)
        np.abs(self._scratch, out=self._scratch)
        np.greater(self._scratch, deadband, out=due)
        # A lamp switched on or off is told even when the step is smaller than the dead-band.
        np.not_equal(level == 0, self._sent_level == 0, out=flip)
        due |= flip
        np.less_equal(self._sent_s, now_s - refresh_s, out=flip)
        due |= flip
        chosen = np.flatnonzero(due)
        self._sent_level[chosen] = level[chosen]
        self._sent_s[chosen] = now_s
        return chosen

    def forget(self, segments: IntArray | None = None) -> None:
        """Resend these segments (default: all) on the next call: after a reconnect the broker
        may have lost what they were told, or someone else told them something."""
        self._sent_level[slice(None) if segments is None else segments] = -np.inf
