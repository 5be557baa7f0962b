"""Lamps that fade: a linear ramp from the level at command time to the target over `ramp_s`.

The same model (`fade_level`) serves the simulator's lamps and the controller's fades (which
lengthen a fade to honour the ramp limit from where the lamp is), so where the controller
expects a lamp to be and where a simulated lamp is cannot drift apart.
"""

import numpy as np
import numpy.typing as npt

from controllers.topology import FloatArray, IntArray

_Levels = npt.NDArray[np.floating]


def fade_level(
    start_level: _Levels, target: _Levels, start_s: _Levels, span_s: _Levels, now_s: float
) -> _Levels:
    """Where lamps fading linearly from `start_level` (at `start_s`, over `span_s`) towards
    `target` are at `now_s` (at or after the fade started; a zero span is already there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        progress = np.where(span_s > 0, np.clip((now_s - start_s) / span_s, 0.0, 1.0), 1.0)
    level: _Levels = start_level + (target - start_level) * progress
    return level


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
        span_s = self._end_s - self._start_s
        level = fade_level(self._start_level, self._target_level, self._start_s, span_s, now_s)
        return level.astype(np.float64, copy=False)  # already float64: no copy
