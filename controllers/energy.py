"""Energy: LED driver power as a function of level, integrated per segment against baselines."""

import numpy as np

from controllers.topology import FloatArray

_SECONDS_PER_HOUR = 3600.0


def power_w(
    level: FloatArray, rated_power_w: FloatArray, standby_power_w: FloatArray
) -> FloatArray:
    """A dimmed LED driver draws about linearly in its level, plus standby when dark."""
    return standby_power_w + (rated_power_w - standby_power_w) * np.clip(level, 0.0, 1.0)


class EnergyMeter:
    """kWh per segment for the actual levels and for the always-on baseline."""

    def __init__(self, rated_power_w: FloatArray, standby_power_w: FloatArray) -> None:
        self._rated_w = rated_power_w
        self._standby_w = standby_power_w
        self.energy_kwh = np.zeros_like(rated_power_w)
        self.always_on_kwh = np.zeros_like(rated_power_w)

    def add(self, level: FloatArray, lit: bool, dt_s: float) -> None:
        """Account `dt_s` seconds at `level`; the baseline burns at 100 % whenever lit."""
        hours = dt_s / _SECONDS_PER_HOUR
        self.energy_kwh += power_w(level, self._rated_w, self._standby_w) * hours / 1000.0
        baseline = self._rated_w if lit else self._standby_w
        self.always_on_kwh += baseline * hours / 1000.0

    @property
    def saving_vs_always_on(self) -> float:
        """Share of the always-on energy that was not used (0 when nothing was lit yet)."""
        baseline = float(self.always_on_kwh.sum())
        return 1.0 - float(self.energy_kwh.sum()) / baseline if baseline > 0 else 0.0
