"""The bin rules of `bins`, one bin and one reading at a time, in plain Python floats.

Written to be read: this is the specification the vectorised step is tested against
(tests/controllers/test_bins_properties.py), and the per-device loop the benchmark compares it
with. The same outward shape as `bins`: a batch in, changes and events out, in time order.
"""

import math
from typing import NamedTuple

from controllers.services.bins import BinBatch, BinRules, in_time_order
from controllers.services.changes import Change, Event

DAY_S = 86400.0
HOUR_S = 3600.0
NAN = math.nan


class Reading(NamedTuple):
    """One element of a BinBatch."""

    bin_index: int
    ts_s: float
    fill: float
    temperature_c: float
    tilt: int
    valid: bool


def local_day(ts_s: float, utc_offset_s: float) -> int:
    """Days since 1970-01-01 (a Thursday), local time."""
    return math.floor((ts_s + utc_offset_s) / DAY_S)


def weekday_of_day(day: int) -> int:
    """Monday 0 ... Sunday 6."""
    return (day + 3) % 7


class ReferenceBin:
    """One bin: its thresholds and everything it remembers (NaN: not seen yet)."""

    def __init__(self, index: int, rules: BinRules) -> None:
        self.index = index
        self.rules = rules
        self.full_on = float(rules.full_on[index])
        self.full_off = float(rules.full_off[index])
        self.empty_on = float(rules.empty_on[index])
        self.empty_off = float(rules.empty_off[index])
        self.collection_days = [bool(day) for day in rules.collection_days[index]]
        self.last_ts_s = NAN  # any reading
        self.fill = NAN  # the last valid reading...
        self.fill_ts_s = NAN  # ... and its time
        self.temperature_c = NAN
        self.cycle_start_s = NAN
        self.peak = self.low = NAN
        self.armed = False
        self.points: list[tuple[float, float]] = []  # (hours from cycle start, fill)
        self.gain = [0.0] * 7  # the fill's rises per local weekday...
        self.hours = [0.0] * 7  # ... and the hours they took
        self.last_emptied_s = NAN
        self.collections = 0
        self.empty = False
        self.since: dict[str, float] = {}  # the active alerts, by kind
        self.missed_day_s = NAN

    # -- readings --

    def read(self, reading: Reading, offset_s: float) -> tuple[list[Change], list[Event]]:
        """One reading; ignored entirely if not later than the last one."""
        if reading.ts_s <= self.last_ts_s:  # False while last_ts_s is NaN: the first reading
            return [], []
        ts_s = self.last_ts_s = reading.ts_s
        changes: list[Change] = []
        events: list[Event] = []
        if math.isfinite(reading.temperature_c):
            self.read_temperature(ts_s, reading.temperature_c, changes)
        if reading.tilt == 1:
            self.start("bin_tilt", ts_s, {"tilt": 1.0}, changes)
        elif reading.tilt == 0:
            self.end("bin_tilt", ts_s, {"tilt": 0.0}, changes)
        if reading.valid and math.isfinite(reading.fill):
            self.read_fill(ts_s, reading.fill, offset_s, (changes, events))
        return changes, events

    def read_temperature(self, ts_s: float, temperature_c: float, changes: list[Change]) -> None:
        rise = temperature_c - self.temperature_c  # NaN without a previous temperature
        burning = temperature_c >= self.rules.fire_temperature_c or rise > self.rules.fire_rise_c
        details = {"temperature_c": temperature_c, "rise_c": rise if math.isfinite(rise) else 0.0}
        if burning:
            self.start("bin_fire", ts_s, details, changes)
        else:
            self.end("bin_fire", ts_s, details, changes)
        self.temperature_c = temperature_c

    def read_fill(
        self, ts_s: float, fill: float, offset_s: float, out: tuple[list[Change], list[Event]]
    ) -> None:
        changes, events = out
        emptied = False
        if math.isnan(self.cycle_start_s):  # the bin's first valid reading
            self.start_cycle(ts_s, fill)
            self.armed = True  # no emptying before it to count twice
        elif self.armed and fill <= self.peak - self.rules.emptying_drop:
            emptied = True
            self.collections += 1
            details = {"fill_before": self.fill, "fill_after": fill}
            details["collections"] = float(self.collections)
            events.append(Event("bin_emptied", self.index, ts_s, details))
            self.end("collection_late", ts_s, {"fill": fill}, changes)
            self.end("missed_pickup", ts_s, {"fill": fill}, changes)
            self.last_emptied_s = ts_s
            self.start_cycle(ts_s, fill)
        else:
            self.cycle_goes_on(ts_s, fill, offset_s)
        full = "bin_full" in self.since
        if emptied or (full and fill <= self.full_off):  # the next reading judges the new cycle
            self.end("bin_full", ts_s, {"fill": fill}, changes)
        elif not full and fill >= self.full_on:
            self.start("bin_full", ts_s, {"fill": fill}, changes)
        if self.empty and fill >= self.empty_off:
            self.empty = False
        elif not self.empty and fill <= self.empty_on:
            self.empty = True
        self.fill, self.fill_ts_s = fill, ts_s

    def start_cycle(self, ts_s: float, fill: float) -> None:
        self.cycle_start_s = ts_s
        self.peak = self.low = fill
        self.armed = False
        self.points = [(0.0, fill)]

    def cycle_goes_on(self, ts_s: float, fill: float, offset_s: float) -> None:
        if not self.armed and fill < self.low:  # what arms is a rise after the low
            self.low = self.peak = fill
        else:
            self.peak = max(self.peak, fill)
        self.armed = self.armed or self.peak >= self.low + self.rules.emptying_rearm
        self.points.append(((ts_s - self.cycle_start_s) / HOUR_S, fill))
        middle_s = (self.fill_ts_s + ts_s) / 2
        if math.isfinite(middle_s):
            day = weekday_of_day(local_day(middle_s, offset_s))
            self.gain[day] += max(fill - self.fill, 0.0)
            self.hours[day] += (ts_s - self.fill_ts_s) / HOUR_S

    def start(self, kind: str, at_s: float, details: dict[str, float], out: list[Change]) -> None:
        if kind not in self.since:
            self.since[kind] = at_s
            out.append(Change(kind, self.index, True, at_s, at_s, details))

    def end(self, kind: str, at_s: float, details: dict[str, float], out: list[Change]) -> None:
        if kind in self.since:
            out.append(Change(kind, self.index, False, self.since.pop(kind), at_s, details))

    # -- the clock --

    def evaluate(self, now_s: float, offset_s: float) -> list[Change]:
        changes: list[Change] = []
        late_s = self.rules.collection_late_s
        if now_s - self.last_emptied_s > late_s and "collection_late" not in self.since:
            since_s = self.last_emptied_s + late_s
            details = {"fill": self.fill, "days_since_emptied": late_s / DAY_S}
            self.since["collection_late"] = since_s
            changes.append(Change("collection_late", self.index, True, since_s, since_s, details))
        if any(self.collection_days):
            today = local_day(now_s, offset_s)
            day = next(d for d in range(today - 1, today - 8, -1) if self.is_collection_day(d))
            start_s = day * DAY_S - offset_s
            end_s = start_s + DAY_S
            same_day = self.missed_day_s + DAY_S / 2 >= end_s  # an hour of DST: the same day
            visible = (  # an emptying would have shown, judged in the day after
                self.fill >= self.rules.emptying_drop and now_s - end_s <= DAY_S
            )
            if (
                self.cycle_start_s < start_s
                and self.last_ts_s >= end_s
                and not same_day
                and visible
            ):
                self.since["missed_pickup"] = self.missed_day_s = end_s
                details = {"fill": self.fill, "weekday": float(weekday_of_day(day))}
                changes.append(Change("missed_pickup", self.index, True, end_s, end_s, details))
        return changes

    def is_collection_day(self, day: int) -> bool:
        return self.collection_days[weekday_of_day(day)]

    def fill_rate_per_day(self) -> float:
        """Least-squares slope of the cycle's points, per day."""
        n = len(self.points)
        span_s = self.fill_ts_s - self.cycle_start_s
        if n < self.rules.min_cycle_readings or not span_s >= self.rules.min_cycle_span_s:
            return NAN
        sum_t = sum_f = sum_tt = sum_tf = 0.0
        for t, f in self.points:
            sum_t += t
            sum_f += f
            sum_tt += t * t
            sum_tf += t * f
        denominator = n * sum_tt - sum_t * sum_t
        if denominator == 0 or not math.isfinite(denominator):
            return NAN
        rate = (n * sum_tf - sum_t * sum_f) / denominator * 24.0
        return rate if math.isfinite(rate) else NAN

    def forecast_full_s(self, now_s: float, offset_s: float) -> float:
        if "bin_full" in self.since:
            return min(self.since["bin_full"], now_s)
        rate = self.fill_rate_per_day()
        if not rate > 0:
            return NAN
        remaining = max(self.full_on - self.fill, 0.0)
        horizon_s = min(self.fill_ts_s, now_s) + self.rules.max_forecast_s
        factors = self.weekday_factors()
        if factors is None:
            at_s = self.fill_ts_s + remaining / rate * DAY_S
        else:
            at_s = self.walk_days(remaining, rate, factors, offset_s)
        return at_s if at_s <= horizon_s else NAN

    def weekday_factors(self) -> list[float] | None:
        """Each weekday's rate over the mean rate, once every weekday has enough history."""
        if min(self.hours) < self.rules.profile_min_hours:
            return None
        mean_per_h = sum(self.gain) / sum(self.hours)
        if not mean_per_h > 0 or not math.isfinite(mean_per_h):
            return None
        factors = [g / h / mean_per_h for g, h in zip(self.gain, self.hours, strict=True)]
        return factors if all(math.isfinite(f) for f in factors) else None

    def walk_days(
        self, remaining: float, rate: float, factors: list[float], offset_s: float
    ) -> float:
        """Fill day by day from the last valid reading until `remaining` is reached."""
        if remaining <= 0:
            return self.fill_ts_s
        day = local_day(self.fill_ts_s, offset_s)
        filled = 0.0
        for _ in range(max(math.ceil(self.rules.max_forecast_s / DAY_S), 0) + 2):
            begin_s = max(day * DAY_S - offset_s, self.fill_ts_s)
            end_s = (day + 1) * DAY_S - offset_s
            per_h = rate / 24.0 * factors[weekday_of_day(day)]
            filled += per_h * ((end_s - begin_s) / HOUR_S)
            if filled >= remaining:
                return end_s - (filled - remaining) / per_h * HOUR_S
            day += 1
        return NAN


class ReferenceBins:
    """Every bin of a site, each its own ReferenceBin."""

    def __init__(self, rules: BinRules) -> None:
        self.bins = [ReferenceBin(index, rules) for index in range(len(rules.full_on))]

    def step(self, batch: BinBatch, utc_offset_s: float) -> tuple[list[Change], list[Event]]:
        """Every reading of the batch, by bin, then time, then arrival."""
        columns = (
            batch.index,
            batch.ts_s,
            batch.fill,
            batch.temperature_c,
            batch.tilt,
            batch.valid,
        )
        readings = [Reading(*values) for values in zip(*(c.tolist() for c in columns), strict=True)]
        in_order = sorted((r for r in readings if math.isfinite(r.ts_s)), key=lambda r: r[:2])
        changes: list[Change] = []
        events: list[Event] = []
        for reading in in_order:
            more, happened = self.bins[reading.bin_index].read(reading, utc_offset_s)
            changes += more
            events += happened
        events.sort(key=lambda e: (e.at_s, e.index))
        return in_time_order(changes), events

    def evaluate(self, now_s: float, utc_offset_s: float) -> list[Change]:
        if not math.isfinite(now_s):
            return []
        return in_time_order([c for b in self.bins for c in b.evaluate(now_s, utc_offset_s)])

    def forecast_full_s(self, now_s: float, utc_offset_s: float) -> list[float]:
        return [b.forecast_full_s(now_s, utc_offset_s) for b in self.bins]

    def fill_rate_per_day(self) -> list[float]:
        return [b.fill_rate_per_day() for b in self.bins]
