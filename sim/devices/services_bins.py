"""Bins over the month in closed form: true fill at any moment, and the sensors' readings.

A bin's fill rate is constant within each hour (`BinWorld.rate_per_h`), so the fill it gains
since the start, `gain`, is exact by linear interpolation between hour edges. Between two
emptyings (a *cycle*) the fill is `min(1, fill at the cycle's start + gain since then)`: a bin
that reaches 1.0 stays there (it overflows). From that, the moment a bin crosses any level is
exact too (the inverse of a piecewise linear function): no time step to choose.
"""

from dataclasses import dataclass

import numpy as np

from sim.world.services_district import ServicesWorld
from sim.world.services_parts import BoolArray, FloatArray, Times

_TILT_MAX_MM = 2500.0  # a knocked-over sensor sees the pavement, a wall, the sky: anything


@dataclass(frozen=True, eq=False)
class FillModel:
    """Every bin's exact true fill: `gain` at hour edges ([bins, hours + 1], cumulative), and
    each bin's cycles (start times, fill at the start; the first starts with the run)."""

    start_s: float
    gain: FloatArray
    cycle_s: tuple[FloatArray, ...]
    cycle_fill: tuple[FloatArray, ...]

    @property
    def hours(self) -> int:
        return int(self.gain.shape[1]) - 1

    def gain_at(self, index: int, times_s: Times) -> FloatArray:
        """Fill gained by bin `index` since the run's start, at `times_s` (uncapped)."""
        offset_h = (np.asarray(times_s, dtype=np.float64) - self.start_s) / 3600.0
        hour = np.clip(np.floor(offset_h).astype(np.int64), 0, self.hours - 1)
        row = self.gain[index]
        return np.asarray(row[hour] + (row[hour + 1] - row[hour]) * (offset_h - hour))

    def fill_at(self, index: int, times_s: Times) -> FloatArray:
        """True fill of bin `index` at `times_s` (an emptying at t is seen at t)."""
        times = np.asarray(times_s, dtype=np.float64)
        starts, fills = self.cycle_s[index], self.cycle_fill[index]
        cycle = np.maximum(np.searchsorted(starts, times, side="right") - 1, 0)
        gained = self.gain_at(index, times) - self.gain_at(index, starts[cycle])
        return np.minimum(fills[cycle] + gained, 1.0)

    def crossings(self, level: float) -> list[tuple[int, float]]:
        """(bin, time) of every time a bin's fill rose to `level` within a cycle and the run;
        a cycle that starts at or above `level` has no crossing."""
        found = []
        for index, (starts, fills) in enumerate(zip(self.cycle_s, self.cycle_fill, strict=True)):
            ends = np.append(starts[1:], np.inf)
            targets = self.gain_at(index, starts) + (level - fills)
            for start_s, fill, end_s, target in zip(starts, fills, ends, targets, strict=True):
                at_s = self._time_of_gain(index, float(target))
                if fill < level and at_s is not None and start_s <= at_s < end_s:
                    found.append((index, at_s))
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    def _time_of_gain(self, index: int, target: float) -> float | None:
        row = self.gain[index]
        hour = int(np.searchsorted(row, target, side="left"))
        if hour > self.hours:
            return None
        if hour == 0:
            return self.start_s
        below, above = float(row[hour - 1]), float(row[hour])
        return self.start_s + 3600.0 * (hour - 1 + (target - below) / (above - below))


def fill_model(world: ServicesWorld) -> FillModel:
    """The month's true fills: gains, and cycles from the visits actually made."""
    bins = world.bins
    rate = bins.rate_per_h
    gain = np.concatenate((np.zeros((rate.shape[0], 1)), np.cumsum(rate, axis=1)), axis=1)
    collected = ~bins.visit_missed
    cycle_s, cycle_fill = [], []
    for index in range(len(bins.ids)):
        mine = collected & (bins.visit_bin == index)
        cycle_s.append(np.concatenate(([world.calendar.start_s], bins.visit_s[mine])))
        cycle_fill.append(np.concatenate(([bins.initial_fill[index]], bins.visit_residual[mine])))
    return FillModel(world.calendar.start_s, gain, tuple(cycle_s), tuple(cycle_fill))


@dataclass(frozen=True, eq=False)
class BinReadings:
    """Every bin's readings: [bins, rounds] arrays; `valid` is False past the run's end."""

    times_s: FloatArray
    valid: BoolArray
    distance_mm: FloatArray
    temperature_c: FloatArray
    tilt: BoolArray


def bin_readings(world: ServicesWorld, model: FillModel, rng: np.random.Generator) -> BinReadings:
    """What the ultrasonic sensors measure at each report: noisy distance, temperature, tilt."""
    bins, calendar = world.bins, world.calendar
    count = len(bins.ids)
    rounds = int(np.ceil((calendar.end_s - calendar.start_s) / bins.period_s))
    times = calendar.start_s + bins.phase_s[:, None] + bins.period_s * np.arange(rounds)[None, :]
    fill = np.array([model.fill_at(b, times[b]) for b in range(count)]).reshape(times.shape)
    depth = bins.empty_mm - bins.full_mm
    distance = bins.empty_mm - fill * depth + rng.normal(0.0, bins.noise_mm, times.shape)
    # March air, warmest at 15:00 local; a bin in the sun runs warmer than one in the shade;
    # the sensor's own noise is small: a reading never jumps the fire rule's 5 °C by itself.
    hour = calendar.hour_of(times)
    local_h = calendar.local_hour[hour] + (times - calendar.start_s - 3600.0 * hour) / 3600.0
    ambient = 9.0 + 5.0 * np.cos(2.0 * np.pi * (local_h - 15.0) / 24.0)
    exposure = rng.normal(0.0, 1.5, (count, 1))
    temperature = ambient + exposure + rng.normal(0.0, 0.3, times.shape)
    tilt = np.zeros(times.shape, dtype=bool)
    for b, first_s, last_s in bins.tilts:
        tilt[b] = (times[b] >= first_s) & (times[b] <= last_s)
    distance = np.where(tilt, rng.uniform(0.0, _TILT_MAX_MM, times.shape), distance)
    for b, first_s, last_s in bins.fires:
        hot = (times[b] >= first_s) & (times[b] <= last_s)
        temperature[b, hot] = rng.uniform(70.0, 95.0, int(hot.sum()))
    return BinReadings(
        times,
        times < calendar.end_s,
        np.rint(np.maximum(distance, 0.0)).astype(np.float64),
        np.round(temperature, 1).astype(np.float64),
        tilt,
    )
