"""The synthetic city of bench/services.py, its readings, and the two ways of running the rules.

`City` draws once how every device behaves: households with dry night hours, leaking meters, a
few bursts, backflows and flags; bins filling at their own rate (faster at the weekend for
some), emptied on their collection days, a few pickups missed, a few bins tilted or burning.
`schedule` lays out the rounds: a week of hourly bin readings (every weekday gets the history
of a profile, so the forecasts walk day by day), then every device every quarter of an hour
until the timed rounds, from 06:00 on a Wednesday (trucks out, households up). `City.batches`
makes a round's readings and moves the simulated water and waste on. `Vectorised` (the
services' state as the daemon keeps it) and `Loop` (the references, device by device) each
step one round of those readings and hand back its `Outcome` and the seconds of its `PARTS`.
"""

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from controllers.services.bins import BinBatch, BinRules, BinState, evaluate_bins, step_bins
from controllers.services.bins_reference import ReferenceBins
from controllers.services.changes import Change, Event, FloatArray
from controllers.services.water import (
    FLAGS,
    WaterBatch,
    WaterRules,
    WaterState,
    evaluate_water,
    step_water,
)
from controllers.services.water_reference import ReferenceWater

ZONE = ZoneInfo("Europe/Paris")
# The timed rounds begin on Wednesday 12 February 2025 at 06:00 in Paris: no DST change near.
TIMED_START_S = datetime(2025, 2, 12, 6, 0, tzinfo=ZONE).timestamp()
ROUND_S = 900.0  # meters and bins report every quarter of an hour ...
HISTORY_ROUND_S = 3600.0  # ... after a week of hourly bin readings
DAY_S = 86400.0
HOUR_S = 3600.0
PER_HOUR = round(HOUR_S / ROUND_S)  # rounds in an hour
# Share of a household's day of water in each local hour: nothing from 02:00 to 05:00 (the
# night the night flow and the leak rule look at), peaks in the morning and the evening.
HOURLY = np.array(
    [0.3, 0.1, 0, 0, 0, 0.2, 1.0, 1.8, 1.5, 1.0, 0.8, 0.9,
     1.1, 1.0, 0.7, 0.6, 0.7, 0.9, 1.3, 1.6, 1.4, 1.0, 0.7, 0.5]
)  # fmt: skip
HOURLY_SHARE = HOURLY / HOURLY.sum()
COLLECTION_WEEKS = ((0, 3), (1, 4), (2, 5), (0, 2, 4), (1, 3, 5), (4,))  # Monday 0
LOW_BATTERY = 1 << FLAGS.index("low_battery")
TAMPER = 1 << FLAGS.index("tamper")


def utc_offset_s(now_s: float) -> float:
    """As the daemon gets it (gateway/services/city.py)."""
    offset = ZONE.utcoffset(datetime.fromtimestamp(now_s, tz=UTC))
    return 0.0 if offset is None else offset.total_seconds()


def local_hour(ts_s: FloatArray, offset_s: float) -> FloatArray:
    hour: FloatArray = np.mod((ts_s + offset_s) / HOUR_S, 24.0)
    return hour


def local_weekday(ts_s: FloatArray, offset_s: float) -> npt.NDArray[np.intp]:
    """Monday 0 (1970-01-01, day 0, was a Thursday)."""
    day: npt.NDArray[np.intp] = np.mod(np.floor((ts_s + offset_s) / DAY_S) + 3, 7).astype(np.intp)
    return day


@dataclass(frozen=True)
class Round:
    """Every device reports once at `start_s` plus its own phase; `meters`: the water meters
    too (the bins' week of history has none)."""

    start_s: float
    meters: bool

    @property
    def now_s(self) -> float:
        """When the daemon steps: every reading of the round is in."""
        return self.start_s + ROUND_S


def schedule(history_days: float, days: float, steps: int) -> tuple[list[Round], list[Round]]:
    """(warm-up, timed): hourly bin rounds, then quarter-hour rounds of all until the timed."""
    warm_s = TIMED_START_S - days * DAY_S
    history_s = warm_s - history_days * DAY_S
    history = [
        Round(history_s + k * HISTORY_ROUND_S, False)
        for k in range(round(history_days * DAY_S / HISTORY_ROUND_S))
    ]
    warm = [Round(warm_s + k * ROUND_S, True) for k in range(round(days * DAY_S / ROUND_S))]
    timed = [Round(TIMED_START_S + k * ROUND_S, True) for k in range(steps)]
    return history + warm, timed


class Batches(NamedTuple):
    now_s: float
    offset_s: float
    water: WaterBatch | None
    bins: BinBatch


class City:
    """How every device behaves, drawn once; `batches` makes a round's readings (and moves the
    simulated water and waste on). `events_s`: the span where bursts, fires and tilts start."""

    def __init__(self, meters: int, bins: int, seed: int, events_s: tuple[float, float]) -> None:
        rng = self.rng = np.random.default_rng(seed)
        self.meters, self.bins = meters, bins
        # Water meters
        self.meter_phase_s = rng.uniform(0, ROUND_S, meters)
        kind = rng.random(meters)
        self.daily_m3 = np.where(kind < 0.01, 0.0, rng.lognormal(np.log(0.3), 0.5, meters))
        leaking = (kind >= 0.01) & (kind < 0.04)  # 3 %: a toilet that runs, a pipe that drips
        self.leak_m3h = np.where(leaking, rng.uniform(0.02, 0.08, meters), 0.0)
        bursting = (kind >= 0.04) & (kind < 0.041)  # 0.1 %: a pipe bursts for a few hours
        self.burst_from_s = np.where(bursting, rng.uniform(*events_s, meters), np.inf)
        self.burst_to_s = self.burst_from_s + rng.uniform(2, 6, meters) * HOUR_S
        self.backflowing = (kind >= 0.041) & (kind < 0.043)
        self.reports_flow = rng.random(meters) < 0.6
        self.base_flags = np.where(rng.random(meters) < 0.005, LOW_BATTERY, 0).astype(np.int64)
        self.tamper_prone = rng.random(meters) < 0.002
        self.meter_last_s = np.full(meters, np.nan)
        # Bins
        self.bin_phase_s = rng.uniform(0, ROUND_S, bins)
        self.rate_per_day = np.clip(rng.lognormal(np.log(0.2), 0.5, bins), 0.03, 1.5)
        self.weekend_factor = np.where(rng.random(bins) < 0.2, 2.0, 1.0)  # parks, markets
        self.true_fill = rng.uniform(0.0, 0.6, bins)
        week = rng.integers(0, len(COLLECTION_WEEKS), bins)
        self.collection_days = np.zeros((bins, 7), dtype=np.bool_)
        for pattern, days in enumerate(COLLECTION_WEEKS):
            self.collection_days[np.ix_(week == pattern, days)] = True
        self.truck_hour = rng.uniform(6.0, 12.0, bins)
        burning = rng.random(bins) < 0.0005
        self.fire_from_s = np.where(burning, rng.uniform(*events_s, bins), np.inf)
        tilted = rng.random(bins) < 0.003
        self.tilt_from_s = np.where(tilted, rng.uniform(*events_s, bins), np.inf)
        self.tilt_to_s = self.tilt_from_s + rng.uniform(1, 12, bins) * HOUR_S
        self.bin_last_s = np.full(bins, np.nan)

    def batches(self, round_: Round) -> Batches:
        offset_s = utc_offset_s(round_.now_s)
        water = self.water_batch(round_.start_s, offset_s) if round_.meters else None
        return Batches(round_.now_s, offset_s, water, self.bin_batch(round_.start_s, offset_s))

    def water_batch(self, start_s: float, offset_s: float) -> WaterBatch:
        rng, n = self.rng, self.meters
        ts = start_s + self.meter_phase_s
        dt_h = (ts - self.meter_last_s) / HOUR_S  # NaN at a meter's first reading
        share = HOURLY_SHARE[local_hour(ts, offset_s).astype(np.intp)]
        household = self.daily_m3 * share * dt_h * rng.gamma(0.5, 2.0, n)
        night = share < 0.01
        flush = np.where(night & (rng.random(n) < 0.03), 0.006, 0.0)  # still a dry hour
        bursting = (ts >= self.burst_from_s) & (ts < self.burst_to_s)
        steady_m3h = self.leak_m3h + np.where(bursting, 1.0, 0.0)
        volume = np.round(household + flush + steady_m3h * dt_h, 3)  # a litre's resolution
        volume = np.where(self.backflowing & (rng.random(n) < 0.05), -0.003, volume)
        tap_on = rng.random(n) < np.minimum(share * 2.4, 1.0)
        instant = np.where(tap_on, rng.uniform(0.1, 0.7, n), 0.0) + steady_m3h
        flow = np.where(self.reports_flow, instant, np.nan)
        flags = self.base_flags | np.where(self.tamper_prone & (rng.random(n) < 0.02), TAMPER, 0)
        self.meter_last_s = ts
        return WaterBatch(
            index=np.arange(n, dtype=np.int64),
            ts_s=ts,
            volume_m3=volume,
            flow_m3h=flow,
            flags=flags.astype(np.int64),
        )

    def bin_batch(self, start_s: float, offset_s: float) -> BinBatch:
        rng, n = self.rng, self.bins
        ts = start_s + self.bin_phase_s
        before_s = self.bin_last_s
        weekday = local_weekday(ts, offset_s)
        factor = np.where(weekday >= 5, self.weekend_factor, 1.0)
        rise = self.rate_per_day * factor * (ts - before_s) / DAY_S
        self.true_fill = np.minimum(self.true_fill + np.nan_to_num(rise), 1.0)
        # The truck passes at the bin's hour on its collection days, misses 3 % of them, and
        # leaves a bin nearly empty for the rest of the interval to fill.
        midnight_s = np.floor((ts + offset_s) / DAY_S) * DAY_S - offset_s
        truck_s = midnight_s + self.truck_hour * HOUR_S
        passes = (before_s < truck_s) & (truck_s <= ts)
        passes &= self.collection_days[np.arange(n), weekday] & (rng.random(n) >= 0.03)
        emptied = passes & (self.true_fill > 0.1)
        after = rng.uniform(0.0, 0.04, n) + self.rate_per_day * factor * (ts - truck_s) / DAY_S
        self.true_fill = np.where(emptied, after, self.true_fill)
        fill = np.clip(self.true_fill + rng.normal(0.0, 0.015, n), 0.0, 1.0)
        tilted = (ts >= self.tilt_from_s) & (ts < self.tilt_to_s)
        lid_open = rng.random(n) < 0.02  # or any sensor error: the fill is not trusted
        fill = np.where(lid_open, rng.uniform(0.0, 1.0, n), fill)
        ambient = 8.0 + 5.0 * np.sin((local_hour(ts, offset_s) - 9.0) / 24.0 * 2 * np.pi)
        burning_s = np.maximum(ts - self.fire_from_s, 0.0)
        heat = np.where(ts >= self.fire_from_s, np.minimum(10.0 + burning_s / 60.0, 400.0), 0.0)
        temperature = ambient + heat + rng.normal(0.0, 0.4, n)
        temperature = np.where(rng.random(n) < 0.01, np.nan, temperature)
        tilt = np.where(tilted, 1, np.where(rng.random(n) < 0.02, -1, 0)).astype(np.int8)
        self.bin_last_s = ts
        return BinBatch(
            index=np.arange(n, dtype=np.int64),
            ts_s=ts,
            fill=fill,
            temperature_c=temperature,
            tilt=tilt,
            valid=~lid_open & ~tilted,
        )


class Outcome(NamedTuple):
    """What a round hands back, to check the loop and the vectorised rules agree."""

    water: tuple[list[Change], list[Event]]
    bins: tuple[list[Change], list[Event]]
    evaluated: tuple[list[Change], list[Change]]  # water, bins
    forecast_s: FloatArray


PARTS = ("step_water", "step_bins", "evaluate", "forecast")


class Vectorised:
    """The services' state as the daemon keeps it, stepped by the vectorised rules."""

    def __init__(self, city: City) -> None:
        self.water_rules = WaterRules.uniform(city.meters)
        rules = BinRules.uniform(city.bins)
        self.bin_rules = replace(rules, collection_days=city.collection_days.copy())
        self.water, self.bins = WaterState(city.meters), BinState(city.bins)

    def round(self, b: Batches) -> tuple[Outcome, list[float]]:
        """One round, and the seconds of each of PARTS."""
        t0 = time.perf_counter()
        water: tuple[list[Change], list[Event]] = ([], [])
        if b.water is not None:
            water = step_water(self.water, self.water_rules, b.water, b.offset_s)
        t1 = time.perf_counter()
        bins = step_bins(self.bins, self.bin_rules, b.bins, b.offset_s)
        t2 = time.perf_counter()
        evaluated = (
            evaluate_water(self.water, self.water_rules, b.now_s, b.offset_s),
            evaluate_bins(self.bins, self.bin_rules, b.now_s, b.offset_s),
        )
        t3 = time.perf_counter()
        forecast = self.bins.forecast_full_s(self.bin_rules, b.now_s, b.offset_s)
        t4 = time.perf_counter()
        return Outcome(water, bins, evaluated, forecast), [t1 - t0, t2 - t1, t3 - t2, t4 - t3]


class Loop:
    """The same rules, device by device: the references."""

    def __init__(self, rules: Vectorised) -> None:
        self.water = ReferenceWater(rules.water_rules)
        self.bins = ReferenceBins(rules.bin_rules)

    def round(self, b: Batches) -> tuple[Outcome, list[float]]:
        t0 = time.perf_counter()
        water: tuple[list[Change], list[Event]] = ([], [])
        if b.water is not None:
            water = self.water.step(b.water, b.offset_s)
        t1 = time.perf_counter()
        bins = self.bins.step(b.bins, b.offset_s)
        t2 = time.perf_counter()
        evaluated = (
            self.water.evaluate(b.now_s, b.offset_s),
            self.bins.evaluate(b.now_s, b.offset_s),
        )
        t3 = time.perf_counter()
        forecast = self.bins.forecast_full_s(b.now_s, b.offset_s)
        t4 = time.perf_counter()
        outcome = Outcome(water, bins, evaluated, np.array(forecast, dtype=np.float64))
        return outcome, [t1 - t0, t2 - t1, t3 - t2, t4 - t3]
