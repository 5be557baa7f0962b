"""The water rules meter by meter, in plain Python: the specification `water.step_water` is
tested against, and the per-device loop a benchmark compares it with.

Written to be read, not to be fast: each meter is an object with floats and a deque of its
last hours, each reading walks every hour boundary it crosses (a month of silence is 720
turns of the loop, where the vectorised step skips what cannot matter). Same rules, same
outward shape, same changes in the same order.
"""

import math
from collections import deque

from controllers.services.changes import Change, Event
from controllers.services.water import FLAGS, WaterBatch, WaterRules
from controllers.services.water_hours import PERIOD_KNOWN_SHARE, PERIOD_ORIGIN_S

HOUR_S = 3600.0
DAY_S = 86400.0
NAN = math.nan


class ReferenceMeter:
    """One water meter: its index, its last hours and its alerts."""

    def __init__(self, index: int, rules: WaterRules, hours: int) -> None:
        self.index = index
        self.rules = rules
        self.q3_m3h = float(rules.q3_m3h[index])
        self.resolution_m3 = float(rules.resolution_m3[index])
        self.continuous = bool(rules.continuous_flow_expected[index])
        self.index_m3 = 0.0  # the sum of the known volumes
        self.last_ts_s: float | None = None
        self.last_flags = 0
        self.hours: deque[float] = deque([NAN] * hours, maxlen=hours)  # oldest first
        self.newest_hour: int | None = None  # the number of the last complete hour
        self.hour_start_m3 = NAN  # the index when the hour in progress began
        self.leak_since_s: float | None = None  # None: no leak
        self.leak_rate_m3h = NAN
        self.burst_run_s: float | None = None  # the first reading of a run above the limit
        self.burst = False
        self.backflow_since_s: float | None = None
        self.backflow_m3 = 0.0
        self.stopped_since_s: float | None = None
        self.last_progress_s = NAN
        self.progress_index_m3 = 0.0
        self.night_m3h = NAN
        self.period: int | None = None
        self.period_m3 = 0.0
        self.period_known_h = 0
        self.past_m3 = 0.0
        self.past_count = 0
        self.high_since_s: float | None = None
        self.changes: list[Change] = []
        self.events: list[Event] = []

    # -- a reading ---------------------------------------------------------------------------

    def read(self, ts: float, volume: float, flow: float, flags: int, utc_offset_s: float) -> None:
        """One reading, ignored unless newer than the last."""
        if not math.isfinite(ts) or (self.last_ts_s is not None and ts <= self.last_ts_s):
            return
        first = self.last_ts_s is None
        if first or not math.isfinite(volume):
            volume = NAN
        if not math.isfinite(flow):  # none reported: the volume over the interval
            flow = NAN if self.last_ts_s is None else volume / (ts - self.last_ts_s) * HOUR_S
        flags &= (1 << len(FLAGS)) - 1
        new_flags = flags & ~self.last_flags
        for bit in range(len(FLAGS)):
            if new_flags >> bit & 1:
                self.events.append(Event("meter_flag", self.index, ts, {"flag": float(bit)}))
        self.walk_hours(ts, volume, utc_offset_s)
        self.check_burst(ts, flow)
        backflow = 1 << FLAGS.index("backflow")
        self.check_backflow(ts, volume, bool(flags & backflow), bool(new_flags & backflow))
        self.check_progress(ts, volume, first)
        self.last_ts_s = ts
        self.last_flags = flags

    def walk_hours(self, ts: float, volume: float, utc_offset_s: float) -> None:
        """Complete every hour between the last reading and this one."""
        start_m3 = self.index_m3
        end_m3 = start_m3 + volume if math.isfinite(volume) else start_m3
        last_hour = math.floor(ts / HOUR_S)
        if self.last_ts_s is None:
            self.newest_hour = last_hour - 1
            known = False
        else:
            t0 = self.last_ts_s
            interval = ts - t0
            known = math.isfinite(volume) and interval <= self.rules.max_gap_s
            for hour in range(math.floor(t0 / HOUR_S), last_hour):
                end_s = (hour + 1) * HOUR_S
                level = start_m3 + volume * ((end_s - t0) / interval) if known else NAN
                hour_m3 = level - self.hour_start_m3
                self.hour_start_m3 = level
                self.hours.append(hour_m3)
                self.newest_hour = hour
                self.hour_done(hour, hour_m3, utc_offset_s)
        if not known:  # the hour in progress starts unknown, unless the reading begins it
            self.hour_start_m3 = end_m3 if ts == last_hour * HOUR_S else NAN

    def check_burst(self, ts: float, flow: float) -> None:
        """Above the limit from the first reading of a run; a burst once a reading above
        comes burst_duration_s after it; a reading at or below ends both."""
        limit = self.rules.burst_share * self.q3_m3h
        if flow > limit:
            if self.burst_run_s is None:
                self.burst_run_s = ts
            if not self.burst and ts - self.burst_run_s >= self.rules.burst_duration_s:
                self.burst = True
                self.change("water_burst", True, self.burst_run_s, ts, flow_m3h=flow)
        elif flow <= limit:
            if self.burst:
                assert self.burst_run_s is not None
                self.burst = False
                self.change("water_burst", False, self.burst_run_s, ts, flow_m3h=flow)
            self.burst_run_s = None

    def check_backflow(self, ts: float, volume: float, flag: bool, flag_raised: bool) -> None:
        """Starts at a volume below minus the resolution or a newly raised flag; ends at a
        volume of at least minus half the resolution without the flag."""
        back_m3 = -volume if volume < 0 else 0.0
        if self.backflow_since_s is None:
            if volume < -self.resolution_m3 or flag_raised:
                self.backflow_since_s = ts
                self.backflow_m3 = back_m3
                self.change("water_backflow", True, ts, ts, volume_m3=back_m3)
        elif volume >= -0.5 * self.resolution_m3 and not flag:
            since = self.backflow_since_s
            self.backflow_since_s = None
            self.change("water_backflow", False, since, ts, volume_m3=self.backflow_m3)
        else:
            self.backflow_m3 += back_m3

    def check_progress(self, ts: float, volume: float, first: bool) -> None:
        """The index moved by more than the resolution (either way): progress, which ends a
        stopped meter."""
        if math.isfinite(volume):
            self.index_m3 += volume
        moved = (
            math.isfinite(volume)
            and abs(self.index_m3 - self.progress_index_m3) > self.resolution_m3
        )
        if moved and self.stopped_since_s is not None:
            self.change("meter_stopped", False, self.stopped_since_s, ts)
            self.stopped_since_s = None
        if moved or first:
            self.last_progress_s = ts
            self.progress_index_m3 = self.index_m3

    # -- a complete hour ---------------------------------------------------------------------

    def hour_done(self, hour: int, hour_m3: float, utc_offset_s: float) -> None:
        """Hour number `hour` completed (NaN: unknown): leak, night, period."""
        if math.isfinite(hour_m3):
            self.check_leak(hour, hour_m3)
        if (hour + math.floor(utc_offset_s / HOUR_S)) % 24 == (self.rules.night_end_h - 1) % 24:
            night = [v for v in list(self.hours)[-self.rules.night_hours :] if math.isfinite(v)]
            self.night_m3h = min(night) if night else NAN
            if night:
                end_s = (hour + 1) * HOUR_S
                self.events.append(Event("night_flow", self.index, end_s, {"m3h": min(night)}))
        self.add_to_period(hour, hour_m3, utc_offset_s)

    def check_leak(self, hour: int, hour_m3: float) -> None:
        """Kamstrup: no dry hour in the window and enough known ones; a dry hour ends it."""
        dry_m3 = self.rules.leak_sensitivity * self.q3_m3h
        end_s = (hour + 1) * HOUR_S
        if self.leak_since_s is not None:
            if hour_m3 < dry_m3:
                since, rate = self.leak_since_s, self.leak_rate_m3h
                lost = rate * ((end_s - HOUR_S - since) / HOUR_S)
                self.leak_since_s = None
                self.change("water_leak", False, since, end_s, rate_m3h=rate, volume_m3=lost)
            else:
                self.leak_rate_m3h = min(self.leak_rate_m3h, hour_m3)
            return
        if self.continuous or hour_m3 < dry_m3:
            return
        window = [v for v in list(self.hours)[-self.rules.leak_window_h :] if math.isfinite(v)]
        if len(window) < self.rules.leak_min_known_h or min(window) < dry_m3:
            return
        # The run of flowing hours: the known hours after the last known dry one.
        ring = list(self.hours)
        run = len(ring) - 1
        for position in range(len(ring) - 1, -1, -1):
            if ring[position] < dry_m3:
                break
            if math.isfinite(ring[position]):
                run = position
        assert self.newest_hour is not None
        since = (self.newest_hour - len(ring) + 1 + run) * HOUR_S
        rate = min(window)
        lost = rate * ((end_s - since) / HOUR_S)
        self.leak_since_s, self.leak_rate_m3h = since, rate
        self.change("water_leak", True, since, end_s, rate_m3h=rate, volume_m3=lost)

    def period_of(self, time_s: float, utc_offset_s: float) -> int:
        local_s = time_s + utc_offset_s - PERIOD_ORIGIN_S
        return math.floor(local_s / self.rules.consumption_period_s)

    def add_to_period(self, hour: int, hour_m3: float, utc_offset_s: float) -> None:
        """The hour belongs to the period it starts in; a period closes at its end."""
        hour_period = self.period_of(hour * HOUR_S, utc_offset_s)
        if self.period is None:
            self.period = hour_period
        elif hour_period > self.period:
            self.close_period(hour_period, utc_offset_s)
        if math.isfinite(hour_m3):
            self.period_m3 += hour_m3
            self.period_known_h += 1
        end_period = self.period_of((hour + 1) * HOUR_S, utc_offset_s)
        if end_period > self.period:
            self.close_period(end_period, utc_offset_s)

    def close_period(self, following: int, utc_offset_s: float) -> None:
        """Judge the period (enough of it known) against the past mean, then add it."""
        assert self.period is not None
        rules = self.rules
        period_s = rules.consumption_period_s
        volume, count = self.period_m3, self.past_count
        if self.period_known_h >= PERIOD_KNOWN_SHARE * period_s / HOUR_S:
            usual = self.past_m3 / max(count, 1)
            high = count > 0 and usual > 0 and volume > rules.consumption_factor * usual
            start_s = self.period * period_s + PERIOD_ORIGIN_S - utc_offset_s
            end_s = start_s + period_s
            numbers = {"period_m3": volume, "usual_m3": usual, "history_periods": float(count)}
            if high and self.high_since_s is None:
                self.high_since_s = start_s
                self.change("high_consumption", True, start_s, end_s, **numbers)
            elif not high and self.high_since_s is not None:
                since, self.high_since_s = self.high_since_s, None
                self.change("high_consumption", False, since, end_s, **numbers)
            if count >= rules.history_periods:  # a running mean: see water_hours._close
                keep = (rules.history_periods - 1) / rules.history_periods
                self.past_m3 = self.past_m3 * keep + volume
            else:
                self.past_m3 += volume
                self.past_count += 1
        self.period = following
        self.period_m3, self.period_known_h = 0.0, 0

    # -- the present -------------------------------------------------------------------------

    def evaluate(self, now_s: float) -> None:
        """Stopped: reported within a day, no progress for stopped_after_s of readings."""
        if self.stopped_since_s is not None or self.last_ts_s is None:
            return
        if self.last_ts_s < now_s - DAY_S:
            return
        if self.last_ts_s - self.last_progress_s >= self.rules.stopped_after_s:
            since = self.last_progress_s + self.rules.stopped_after_s
            self.stopped_since_s = since
            self.change("meter_stopped", True, since, since)

    def leak_volume_m3(self, now_s: float) -> float:
        if self.leak_since_s is None:
            return 0.0
        return self.leak_rate_m3h * (max(now_s - self.leak_since_s, 0.0) / HOUR_S)

    def change(
        self, kind: str, active: bool, since_s: float, at_s: float, **numbers: float
    ) -> None:
        self.changes.append(Change(kind, self.index, active, since_s, at_s, numbers))


class ReferenceWater:
    """Every meter of a site, each its own ReferenceMeter."""

    def __init__(self, rules: WaterRules, hours: int = 48) -> None:
        self.rules = rules
        self.meters = [ReferenceMeter(i, rules, hours) for i in range(len(rules.q3_m3h))]

    def step(self, batch: WaterBatch, utc_offset_s: float) -> tuple[list[Change], list[Event]]:
        """Apply the batch in time order (a meter's ties in batch order)."""
        ts = batch.ts_s.tolist()
        for i in sorted((i for i in range(len(ts)) if math.isfinite(ts[i])), key=ts.__getitem__):
            self.meters[int(batch.index[i])].read(
                ts[i],
                float(batch.volume_m3[i]),
                float(batch.flow_m3h[i]),
                int(batch.flags[i]),
                utc_offset_s,
            )
        return self._collect()

    def evaluate(self, now_s: float, utc_offset_s: float) -> list[Change]:
        del utc_offset_s  # no rule of the present is local today
        for meter in self.meters:
            meter.evaluate(now_s)
        return self._collect()[0]

    def leak_volume_m3(self, now_s: float) -> list[float]:
        return [meter.leak_volume_m3(now_s) for meter in self.meters]

    def night_flow_m3h(self) -> list[float]:
        return [meter.night_m3h for meter in self.meters]

    def hourly_m3(self, hours: int) -> list[list[float]]:
        """Each meter's last `hours` complete hours, oldest first."""
        return [list(meter.hours)[-hours:] for meter in self.meters]

    def _collect(self) -> tuple[list[Change], list[Event]]:
        changes = [change for meter in self.meters for change in meter.changes]
        events = [event for meter in self.meters for event in meter.events]
        for meter in self.meters:
            meter.changes, meter.events = [], []
        changes.sort(key=lambda c: (c.at_s, c.index, c.kind, c.active))
        events.sort(key=lambda e: (e.at_s, e.index, e.kind, sorted(e.details.items())))
        return changes, events
