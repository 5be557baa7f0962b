"""What a night cost and how it felt: energy against three baselines, walker comfort, the
darkest stretch, where the energy above the oracle went, and a bounded series to plot.

Sampled once per simulation step with the lamps' actual (fading) levels. Walker-time is a
Riemann sum: each walker counts `dt_s` seconds on the segment the caller says it is on.

Levels that matter come from the segments' photometry (`controllers.classes`): a segment
*requires* the level of its rated class while someone is on it, and its *floor* is the level of
the quietest class (P6). The baselines:
- always-on: 100 % whenever lit;
- static: the required level whenever lit (what a well-commissioned dimmer does with no
  sensors at all);
- oracle: the required level exactly while a walker is on the segment, the floor otherwise;
  no policy that keeps walkers comfortable can use less.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from controllers.energy import EnergyMeter, power_w
from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.topology import BoolArray, FloatArray, IntArray, Topology
from sim.devices.lamps import REASONS

# Levels travel as 4-decimal numbers on the wire; anything closer than this is "at" a level.
LEVEL_TOLERANCE = 0.005


@dataclass(frozen=True, eq=False)
class Series:
    """Samples over the night: `level` and `walkers` are (samples, segments)."""

    time_s: FloatArray
    lit: BoolArray
    level: FloatArray
    walkers: IntArray
    energy_kwh: FloatArray
    always_on_kwh: FloatArray


def required_levels(topology: Topology) -> tuple[FloatArray, FloatArray]:
    """(required when occupied, floor) of every segment: its rated class and P6, through its
    photometry. These define the scenario's comfort and oracle, whatever the policy does."""
    return topology.rated_level, topology.lowest_class_level


class Metrics:
    """Energy against the baselines, walker comfort, worst dark stretch, and the plot samples."""

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
        self.required, self.floor = required_levels(topology)
        self._rated_w, self._standby_w = topology.rated_power_w, topology.standby_power_w
        self.energy = EnergyMeter(topology.rated_power_w, topology.standby_power_w)
        self.static = EnergyMeter(topology.rated_power_w, topology.standby_power_w)
        self.oracle = EnergyMeter(topology.rated_power_w, topology.standby_power_w)
        self.hourly: dict[int, FloatArray] = defaultdict(lambda: np.zeros(4))
        self.excess_kwh: dict[str, float] = defaultdict(float)
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
        """Share of lit walker-time spent at or above the required level (1.0 if nobody)."""
        return self.full_light_walker_s / self.walker_s if self.walker_s > 0 else 1.0

    def add(
        self,
        now_s: float,
        dt_s: float,
        level: FloatArray,
        walker_ids: IntArray,
        on: IntArray,
        *,
        reason: IntArray | None = None,
    ) -> None:
        """Account `dt_s` seconds ending at `now_s`; walker `walker_ids[i]` is on `on[i]`;
        `reason[s]` (an index of REASONS) says which rule set segment s's level, if known."""
        self.lit = self._astro.is_lit(
            now_s, self._schedule.sunset_offset_s, self._schedule.sunrise_offset_s
        )
        occupied = np.bincount(on, minlength=self._size) > 0
        oracle = np.where(occupied, self.required, self.floor) if self.lit else np.zeros(self._size)
        static = self.required if self.lit else np.zeros(self._size)
        before = self._totals()
        self.energy.add(level, self.lit, dt_s)
        self.static.add(static, self.lit, dt_s)
        self.oracle.add(oracle, self.lit, dt_s)
        self.hourly[int(now_s // 3600)] += self._totals() - before
        self._excess(level, oracle, occupied, reason, dt_s)
        self._walkers(level, walker_ids, on, dt_s)
        self._sample(now_s, level, on)

    def _totals(self) -> FloatArray:
        return np.array(
            [
                float(self.energy.energy_kwh.sum()),
                float(self.energy.always_on_kwh.sum()),
                float(self.static.energy_kwh.sum()),
                float(self.oracle.energy_kwh.sum()),
            ]
        )

    def _excess(
        self,
        level: FloatArray,
        oracle: FloatArray,
        occupied: BoolArray,
        reason: IntArray | None,
        dt_s: float,
    ) -> None:
        """Energy above the oracle, by the rule that set each segment's level."""
        if not self.lit:
            return
        extra_w = power_w(level, self._rated_w, self._standby_w) - power_w(
            oracle, self._rated_w, self._standby_w
        )
        kwh = np.maximum(extra_w, 0.0) * dt_s / 3600 / 1000
        rule = reason if reason is not None else np.full(self._size, len(REASONS) - 1)
        for r in np.unique(rule).tolist():
            mine = rule == r
            self.excess_kwh[f"{REASONS[r]}, occupied"] += float(kwh[mine & occupied].sum())
            self.excess_kwh[f"{REASONS[r]}, empty"] += float(kwh[mine & ~occupied].sum())

    def _walkers(self, level: FloatArray, walker_ids: IntArray, on: IntArray, dt_s: float) -> None:
        full = level[on] >= self.required[on] - LEVEL_TOLERANCE
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
