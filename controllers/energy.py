"""Energy: LED driver power as a function of level, integrated per segment against baselines.

Baselines: *always-on* burns every lamp at 100 % whenever the schedule says lit; *static* is
the schedule alone (fixed-time steps and exceptions within the limits, no traffic, presence or
fail-safe), what a plain dimming program without sensors would draw.
"""

import numpy as np
import numpy.typing as npt

from controllers.topology import BoolArray, FloatArray

_KWH_PER_WS = 1.0 / 3_600_000.0


def power_w(
    level: npt.NDArray[np.floating], rated_power_w: FloatArray, standby_power_w: FloatArray
) -> FloatArray:
    """A dimmed LED driver draws about linearly in its level, plus standby when dark."""
    clipped = np.clip(np.asarray(level, dtype=np.float64), 0.0, 1.0)
    watts: FloatArray = standby_power_w + (rated_power_w - standby_power_w) * clipped
    return watts


class EnergyMeter:
    """kWh per segment for the actual levels and for the baselines."""

    def __init__(self, rated_power_w: FloatArray, standby_power_w: FloatArray) -> None:
        self._rated_w = rated_power_w
        self._standby_w = standby_power_w
        self.energy_kwh = np.zeros_like(rated_power_w)
        self.always_on_kwh = np.zeros_like(rated_power_w)
        self.static_kwh = np.zeros_like(rated_power_w)

    def add(
        self,
        level: npt.NDArray[np.floating],
        lit: bool | BoolArray,
        dt_s: float,
        static_level: npt.NDArray[np.floating] | None = None,
    ) -> None:
        """Account `dt_s` seconds at `level`; `lit` (per segment or for all) drives the
        always-on baseline, `static_level` (0 where off) the static one."""
        kwh = dt_s * _KWH_PER_WS
        self.energy_kwh += power_w(level, self._rated_w, self._standby_w) * kwh
        self.always_on_kwh += np.where(lit, self._rated_w, self._standby_w) * kwh
        if static_level is not None:
            self.static_kwh += power_w(static_level, self._rated_w, self._standby_w) * kwh

    @property
    def saving_vs_always_on(self) -> float:
        """Share of the always-on energy that was not used (0 when nothing was lit yet)."""
        baseline = float(self.always_on_kwh.sum())
        return 1.0 - float(self.energy_kwh.sum()) / baseline if baseline > 0 else 0.0
