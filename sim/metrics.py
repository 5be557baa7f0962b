"""What a night cost and how it felt: energy, walker comfort, and a bounded time series to plot.

Sampled once per simulation step with the lamps' actual (fading) levels. Walker-time is a
Riemann sum: each walker counts `dt_s` seconds on the segment the caller says it is on.
"""

from dataclasses import dataclass

import numpy as np

from controllers.energy import EnergyMeter
from controllers.resolve import resolve_policy
from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.topology import BoolArray, FloatArray, IntArray, Topology

# A lamp still fading up to the presence level counts as full light within this margin.
_FULL_LIGHT_MARGIN = 0.02


@dataclass(frozen=True, eq=False)
class Series:
    """Samples over the night: `level` and `walkers` are (samples, segments)."""

    time_s: FloatArray
    lit: BoolArray
    level: FloatArray
    walkers: IntArray
    energy_kwh: FloatArray
    always_on_kwh: FloatArray


class Metrics:
    """Energy against always-on, walker comfort, worst dark stretch, and the plot samples."""

    def __init__(
        self,
        topology: Topology,
        policy: Policy,
        astro: AstronomicalClock,
        window_s: float,
        max_samples: int = 2000,
    ) -> None:
        self._size = topology.size
        self._schedule = policy.schedule
        self._astro = astro
        # Full light is the level presence asks for on each segment (its occupied level).
        occupied = resolve_policy(policy, topology).occupied_level
        self._full_level = occupied.astype(np.float64) - _FULL_LIGHT_MARGIN
        self.energy = EnergyMeter(topology.rated_power_w, topology.standby_power_w)
        self.lit = False
        self.walker_s = 0.0
        self.full_light_walker_s = 0.0
        self.worst_dark_s = 0.0
        self._dark_streak_s = np.zeros(0)  # by walker id, seconds under-lit without a break
        self._max_samples = max_samples
        self._sample_every_s = max(window_s / max_samples, 0.0)
        self._next_sample_s = -np.inf
        self._samples: list[tuple[float, bool, FloatArray, IntArray, float, float]] = []

    @property
    def comfort(self) -> float:
        """Share of lit walker-time spent under full light (1.0 when nobody walked at night)."""
        return self.full_light_walker_s / self.walker_s if self.walker_s > 0 else 1.0

    def add(
        self, now_s: float, dt_s: float, level: FloatArray, walker_ids: IntArray, on: IntArray
    ) -> None:
        """Account `dt_s` seconds ending at `now_s`; walker `walker_ids[i]` is on `on[i]`."""
        self.lit = self._astro.is_lit(
            now_s, self._schedule.sunset_offset_s, self._schedule.sunrise_offset_s
        )
        self.energy.add(level, self.lit, dt_s)
        self._walkers(level, walker_ids, on, dt_s)
        self._sample(now_s, level, on)

    def _walkers(self, level: FloatArray, walker_ids: IntArray, on: IntArray, dt_s: float) -> None:
        full = level[on] >= self._full_level[on]
        if self.lit:
            self.walker_s += len(on) * dt_s
            self.full_light_walker_s += int(full.sum()) * dt_s
        if len(walker_ids) and walker_ids.max() >= len(self._dark_streak_s):
            grown = np.zeros(max(2 * len(self._dark_streak_s), int(walker_ids.max()) + 1))
            grown[: len(self._dark_streak_s)] = self._dark_streak_s
            self._dark_streak_s = grown
        # By day nobody is "in the dark": every streak restarts.
        dark = ~full & self.lit
        streak_s = np.where(dark, self._dark_streak_s[walker_ids] + dt_s, 0.0)
        self._dark_streak_s[walker_ids] = streak_s
        if len(streak_s):
            self.worst_dark_s = max(self.worst_dark_s, float(streak_s.max()))

    def _sample(self, now_s: float, level: FloatArray, on: IntArray) -> None:
        if now_s < self._next_sample_s:
            return
        self._next_sample_s = now_s + self._sample_every_s
        walkers = np.bincount(on, minlength=self._size).astype(np.int64)
        energy_kwh = float(self.energy.energy_kwh.sum())
        always_on_kwh = float(self.energy.always_on_kwh.sum())
        self._samples.append((now_s, self.lit, level.copy(), walkers, energy_kwh, always_on_kwh))
        if len(self._samples) >= 2 * self._max_samples:
            # A run longer than planned: keep every other sample and sample half as often.
            self._samples = self._samples[::2]
            self._sample_every_s *= 2

    def series(self) -> Series:
        """The samples as arrays (empty arrays of the right shape before the first sample)."""
        samples = self._samples
        return Series(
            time_s=np.array([s[0] for s in samples], dtype=np.float64),
            lit=np.array([s[1] for s in samples], dtype=np.bool_),
            level=np.array([s[2] for s in samples], dtype=np.float64).reshape(-1, self._size),
            walkers=np.array([s[3] for s in samples], dtype=np.int64).reshape(-1, self._size),
            energy_kwh=np.array([s[4] for s in samples], dtype=np.float64),
            always_on_kwh=np.array([s[5] for s in samples], dtype=np.float64),
        )
