"""The fade each lamp is told to make, and where each lamp is along its current fade.

Lamps fade themselves (as DALI drivers do) from where they are to the new target over the
command's `ramp_s`. To honour the fastest allowed change (`limits.max_ramp_per_s`) the fade
must be long enough for the distance the lamp actually has to travel, which depends on where
it is in its previous fade: hence this small model, on the linear fade of controllers.lamps.
Only segments whose target changed are touched.
"""

import numpy as np

from controllers.lamps import fade_level
from controllers.topology import Float32Array, IntArray


class Fades:
    """Per segment: the level the current fade started from, when, for how long."""

    def __init__(self, size: int) -> None:
        self.start_level = np.zeros(size, dtype=np.float32)
        self.start_s = np.zeros(size, dtype=np.float64)
        self.ramp_s = np.zeros(size, dtype=np.float32)

    def current(self, segments: IntArray, target: Float32Array, now_s: float) -> Float32Array:
        """Where these lamps are at `now_s`, fading towards `target` (their previous targets)."""
        start = self.start_level[segments]
        span_s, start_s = self.ramp_s[segments], self.start_s[segments]
        level: Float32Array = fade_level(start, target, start_s, span_s, now_s).astype(np.float32)
        return level

    def retarget(
        self,
        segments: IntArray,
        previous: Float32Array,
        target: Float32Array,
        now_s: float,
        ramps: tuple[Float32Array, Float32Array, Float32Array],
    ) -> None:
        """Start new fades to `target`; `ramps` are (ramp_up_s, ramp_down_s, max_ramp_per_s)
        of these segments. Up or down is judged from where each lamp is now."""
        ramp_up_s, ramp_down_s, max_per_s = ramps
        here = self.current(segments, previous, now_s)
        delta = target - here
        ramp_s = np.where(delta >= 0, ramp_up_s, ramp_down_s)
        ramp_s = np.maximum(ramp_s, np.abs(delta) / max_per_s)  # rate inf: no lengthening
        self.start_level[segments] = here
        self.start_s[segments] = now_s
        self.ramp_s[segments] = ramp_s
