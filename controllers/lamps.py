"""Lamps that fade: a linear ramp from the level at command time to the target over `ramp_s`.

The same model serves the simulator's lamps and the controller's energy estimate, so what the
controller expects a lamp to draw and what a simulated lamp draws cannot drift apart.
"""

import numpy as np

from controllers.topology import FloatArray, IntArray


class LampBank:
    """Fading levels for `size` lamps (or segments), all as arrays."""

    def __init__(self, size: int, initial_level: float = 0.0) -> None:
        self._start_level = np.full(size, initial_level)
        self._target_level = np.full(size, initial_level)
        self._start_s = np.zeros(size)
        self._end_s = np.zeros(size)

    @property
    def target(self) -> FloatArray:
        return self._target_level.copy()

    def command(self, lamps: IntArray, level: FloatArray, ramp_s: FloatArray, now_s: float) -> None:
        """Start fading `lamps` from where they are now towards `level` over `ramp_s`."""
        current = self.level(now_s)[lamps]
        self._start_level[lamps] = current
        self._target_level[lamps] = level
        self._start_s[lamps] = now_s
        self._end_s[lamps] = now_s + np.maximum(ramp_s, 0.0)

    def level(self, now_s: float) -> FloatArray:
        """Every lamp's level at `now_s` (at or after the last command)."""
        span = self._end_s - self._start_s
        with np.errstate(divide="ignore", invalid="ignore"):
            progress = np.where(span > 0, (now_s - self._start_s) / span, 1.0)
        progress = np.clip(progress, 0.0, 1.0)
        level: FloatArray = self._start_level + (self._target_level - self._start_level) * progress
        return level
