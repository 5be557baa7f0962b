"""Water meters: leak, burst, backflow, stopped meter, night flow and high consumption, for
every meter in one step.

A reading brings a signed volume since the meter's previous one (the caller resolved the
index's rollover), maybe an instantaneous flow, and the meter's own alarm flags. Two kinds of
rule follow:
- per reading: the meter's flags newly raised (events), a burst (a flow above a share of Q3
  for half an hour), backflow (the index ran back), progress of the index (a stopped meter
  ends);
- per completed hour (water_hours.py turns readings into hours): a leak (Kamstrup: no hour
  without flow for a day), the night flow (the driest hour between 02:00 and 05:00 local),
  and the consumption of a period (a week from local midnight) against the usual one.
`evaluate_water` adds the one rule that needs the present: a meter that still reports but
whose index has not moved for four weeks.

Every time in a change comes from the data (changes.py): replaying the same readings after a
restart gives the same changes. A reading not newer than the meter's last is ignored, so a
replay changes nothing at all.
"""

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from controllers.services.changes import BoolArray, Change, Event, FloatArray, IntArray
from controllers.services.water_hours import HOUR_S, HourRing, HourSpan, Outcome, Step, walk

FLAGS: tuple[str, ...] = (
    "leak",
    "burst",
    "backflow",
    "tamper",
    "dry",
    "low_battery",
    "meter_error",
    "frost",
    "overflow",
)  # bit i of WaterBatch.flags is FLAGS[i]; higher bits are not ours and are dropped
_FLAG_MASK = (1 << len(FLAGS)) - 1
_BACKFLOW_BIT = FLAGS.index("backflow")
_DAY_S = 86400.0
# A meter "still reports" (the stopped rule) when its last reading is at most this old.
_REPORTING_S = _DAY_S


@dataclass(frozen=True, eq=False)
class WaterRules:
    """The thresholds: Q3, the index's resolution and the leak exemption per meter, the rest
    for all meters. Volumes in m³, flows in m³/h, times in seconds, local hours 0-23."""

    q3_m3h: FloatArray
    resolution_m3: FloatArray
    continuous_flow_expected: BoolArray
    # An hour with less than this share of Q3 over the hour has no flow (Kamstrup: 0.5 % of
    # a DN15's 2.5 m³/h, 12.5 L/h).
    leak_sensitivity: float = 0.005
    leak_window_h: int = 24  # a leak: no hour without flow in the last day ...
    leak_min_known_h: int = 20  # ... of which this many hours are known
    burst_share: float = 0.20  # a burst: a flow above this share of Q3 ...
    burst_duration_s: float = 1800  # ... for this long
    stopped_after_s: float = 28 * 86400  # no progress for four weeks while still reporting
    max_gap_s: float = 7200  # longer silences: the hours inside are unknown
    night_start_h: int = 2  # the night flow: the driest hour in [start, end) local
    night_end_h: int = 5
    consumption_factor: float = 2.0  # high consumption: a period above this × the usual
    consumption_period_s: float = 7 * 86400
    history_periods: int = 156  # the usual: the mean of up to this many past periods

    def __post_init__(self) -> None:
        if not 1 <= self.leak_min_known_h <= self.leak_window_h:
            raise ValueError("leak_min_known_h must be in 1..leak_window_h")
        if not (np.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
            raise ValueError("max_gap_s must be finite and non-negative")
        if not self.consumption_period_s >= HOUR_S:
            raise ValueError("consumption_period_s must be at least an hour")
        if self.history_periods < 1:
            raise ValueError("history_periods must be at least 1")
        if not (0 <= self.night_start_h < 24 and 0 <= self.night_end_h < 24):
            raise ValueError("night hours must be in 0..23")

    @property
    def night_hours(self) -> int:
        """How many hours the night spans (start == end: a whole day)."""
        return (self.night_end_h - self.night_start_h) % 24 or 24

    @property
    def boundary_cap(self) -> int:
        """The hour boundaries one reading's move walks one by one; any further ones are
        skipped. A move crossing more is longer than max_gap_s, so its hours are unknown,
        and a night ending that far into it has no known hour: only the period open when
        the silence began still has to be closed, once."""
        return max(int(self.max_gap_s // HOUR_S) + 1, self.night_hours)

    @staticmethod
    def uniform(n: int, **scalars: float) -> "WaterRules":
        """The same rules for `n` meters; a per-meter field given here is broadcast."""
        per_meter = {"q3_m3h": 2.5, "resolution_m3": 0.001, "continuous_flow_expected": False}
        known = {field.name: field for field in fields(WaterRules)}
        kwargs: dict[str, Any] = {}
        for name, value in {**per_meter, **scalars}.items():
            if name not in known:
                raise TypeError(f"WaterRules has no field {name!r}")
            if name in per_meter:
                dtype = np.bool_ if name == "continuous_flow_expected" else np.float64
                kwargs[name] = np.full(n, value, dtype=dtype)
            elif known[name].type in (int, "int"):
                kwargs[name] = int(value)
            else:
                kwargs[name] = float(value)
        return WaterRules(**kwargs)


@dataclass(frozen=True, eq=False)
class WaterBatch:
    """Readings, one per element. `volume_m3`: signed volume since the meter's previous
    reading (negative: water ran back; NaN: unknown, a new baseline: the meter's first
    reading, a replaced meter). `flow_m3h`: reported instantaneous flow, NaN when the meter
    gives none (the volume over the interval stands in). `flags`: bitmask of FLAGS."""

    index: IntArray
    ts_s: FloatArray
    volume_m3: FloatArray
    flow_m3h: FloatArray
    flags: npt.NDArray[np.int64]


# Everything per meter a restart needs, in pack order (the ring's arrays follow).
_COLUMNS = (
    "index_m3",  # net index: the sum of the known volumes
    "last_ts_s",
    "last_flags",
    "leak_active",
    "leak_since_s",
    "leak_rate_m3h",
    "burst_active",
    "burst_since_s",  # first reading of the current run above the burst flow
    "backflow_active",
    "backflow_since_s",
    "backflow_m3",  # run back during the current backflow
    "stopped_active",
    "stopped_since_s",
    "last_progress_s",
    "progress_index_m3",  # the index at last_progress_s
    "night_m3h",
    "period",  # number of the open period (NaN: none yet)
    "period_m3",
    "period_known_h",
    "past_m3",  # the past periods' (decayed) sum ...
    "past_count",  # ... and count
    "high_active",
    "high_since_s",
)


class WaterState:
    """What the rules remember of every meter, packable into rows of floats for a restart."""

    WIDTH: ClassVar[int] = len(_COLUMNS) + 2 + 48  # for hours=48; an instance: self.width

    def __init__(self, n: int, hours: int = 48) -> None:
        self.size = n
        self.ring = HourRing(n, hours)
        self.width = len(_COLUMNS) + 2 + hours
        nan = np.full(n, np.nan)
        self.index_m3: FloatArray = np.zeros(n)
        self.last_ts_s: FloatArray = nan.copy()
        self.last_flags: IntArray = np.zeros(n, dtype=np.int64)
        self.leak_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.leak_since_s, self.leak_rate_m3h = nan.copy(), nan.copy()
        self.burst_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.burst_since_s = nan.copy()
        self.backflow_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.backflow_since_s, self.backflow_m3 = nan.copy(), np.zeros(n)
        self.stopped_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.stopped_since_s, self.last_progress_s = nan.copy(), nan.copy()
        self.progress_index_m3 = np.zeros(n)
        self.night_m3h, self.period = nan.copy(), nan.copy()
        self.period_m3, self.period_known_h = np.zeros(n), np.zeros(n)
        self.past_m3, self.past_count = np.zeros(n), np.zeros(n)
        self.high_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.high_since_s = nan.copy()

    @property
    def hours(self) -> int:
        """How many complete hours the ring keeps."""
        return self.ring.hours

    def _columns(self) -> list[npt.NDArray[Any]]:
        columns = [np.asarray(getattr(self, name)) for name in _COLUMNS]
        return [*columns, self.ring.start_m3, self.ring.newest_hour]

    def pack(self, indexes: IntArray) -> FloatArray:
        """[len(indexes), width]: every field of these meters, then their ring (slot order)."""
        columns = [column[indexes].astype(np.float64) for column in self._columns()]
        rows: FloatArray = np.column_stack([*columns, self.ring.volume_m3[indexes]])
        return rows.reshape(len(indexes), self.width)

    def unpack(self, indexes: IntArray, rows: FloatArray) -> None:
        """Restore these meters from `pack`'s rows (exactly: flags and hour numbers are
        integers well inside a float's 53 bits)."""
        if rows.shape != (len(indexes), self.width):
            raise ValueError(f"rows of shape {rows.shape}, expected ({len(indexes)}, {self.width})")
        for i, column in enumerate(self._columns()):
            column[indexes] = rows[:, i]
        self.ring.volume_m3[indexes] = rows[:, len(_COLUMNS) + 2 :]

    def hourly_m3(self, hours: int) -> FloatArray:
        """[N, hours]: each meter's last `hours` complete hours, oldest first, ending at its
        own newest complete hour (NaN: unknown, or before its first reading)."""
        if not 1 <= hours <= self.hours:
            raise ValueError(f"the ring keeps 1..{self.hours} hours, not {hours}")
        out = np.full((self.size, hours), np.nan)
        seen = np.flatnonzero(np.isfinite(self.ring.newest_hour))
        out[seen] = self.ring.last(seen, hours)
        return out

    def night_flow_m3h(self) -> FloatArray:
        """Per meter: the driest hour of its last complete night, m³/h (NaN: none known)."""
        return self.night_m3h.copy()

    def leak_volume_m3(self, now_s: float) -> FloatArray:
        """The estimated volume lost to each active leak by `now_s` (0 elsewhere): its rate
        over the hours since it began."""
        hours = np.maximum(now_s - self.leak_since_s, 0.0) / HOUR_S
        lost: FloatArray = np.where(self.leak_active, self.leak_rate_m3h * hours, 0.0)
        return lost


@dataclass(frozen=True, eq=False)
class _Readings:
    """One round of fresh readings, at most one per meter, sanitised: `volume_m3` NaN when
    unknown (no previous reading, a baseline, not finite), `flow_m3h` reported or the volume
    over the interval, `new_flags` the bits that were not set at the previous reading."""

    meters: IntArray
    ts_s: FloatArray
    volume_m3: FloatArray
    flow_m3h: FloatArray
    flags: IntArray
    new_flags: IntArray


def step_water(
    state: WaterState, rules: WaterRules, batch: WaterBatch, utc_offset_s: float
) -> tuple[list[Change], list[Event]]:
    """Apply a batch of readings; the changes of alerts and the events, in time order.

    Readings of one meter are applied in time order, one round per reading of the busiest
    meter; a reading not newer than the meter's last is ignored. An absurd number (an inf, an
    overflow) makes NaN or inf in its meter's row, never an exception that loses the batch."""
    _check(state, rules)
    if len(batch.index) and not 0 <= batch.index.min() <= batch.index.max() < state.size:
        raise IndexError(f"a reading of a meter outside 0..{state.size - 1}")
    step = Step(state, rules, utc_offset_s, Outcome())
    with np.errstate(all="ignore"):
        for take in _rounds(batch):
            readings = _fresh(state, batch, take)
            _flags(step, readings)
            _hours(step, readings)
            _burst(step, readings)
            _backflow(step, readings)
            _progress(step, readings)
            state.last_ts_s[readings.meters] = readings.ts_s
            state.last_flags[readings.meters] = readings.flags
    return step.out.ordered()


def evaluate_water(
    state: WaterState, rules: WaterRules, now_s: float, utc_offset_s: float
) -> list[Change]:
    """The rule that needs the present: a meter that reported within the last day but whose
    index has not moved by more than its resolution for `stopped_after_s` (by its own
    readings) is stopped, since its last progress plus that time. Only progress ends it (a
    step), not silence. `utc_offset_s` is for local-time rules; none needs it today."""
    del utc_offset_s
    _check(state, rules)
    reporting = state.last_ts_s >= now_s - _REPORTING_S
    idle = state.last_ts_s - state.last_progress_s >= rules.stopped_after_s
    meters = np.flatnonzero(reporting & idle & ~state.stopped_active)
    since = state.last_progress_s[meters] + rules.stopped_after_s
    state.stopped_active[meters] = True
    state.stopped_since_s[meters] = since
    out = Outcome()
    out.change("meter_stopped", meters, True, (since, since))
    return out.ordered()[0]


def _check(state: WaterState, rules: WaterRules) -> None:
    for name in ("q3_m3h", "resolution_m3", "continuous_flow_expected"):
        if len(getattr(rules, name)) != state.size:
            raise ValueError(f"rules.{name} has not one value per meter ({state.size})")
    if state.hours < max(rules.leak_window_h, rules.night_hours):
        raise ValueError(f"the ring's {state.hours} h cannot hold the leak window or the night")


def _rounds(batch: WaterBatch) -> Iterator[IntArray]:
    """The batch's positions in rounds: round r holds each meter's r-th reading in time
    order (ties in batch order), so a round has at most one reading per meter."""
    order = np.lexsort((batch.ts_s, batch.index))
    meters = batch.index[order]
    rank = np.arange(len(order)) - np.searchsorted(meters, meters, side="left")
    for r in range(int(rank.max(initial=-1)) + 1):
        yield order[rank == r]


def _fresh(state: WaterState, batch: WaterBatch, take: IntArray) -> _Readings:
    """The readings of `take` newer than their meter's last, sanitised."""
    ts = batch.ts_s[take]
    take = take[np.isfinite(ts) & ~(ts <= state.last_ts_s[batch.index[take]])]
    meters, ts = batch.index[take], batch.ts_s[take]
    last = state.last_ts_s[meters]
    volume = batch.volume_m3[take]
    volume = np.where(np.isfinite(volume) & np.isfinite(last), volume, np.nan)
    flow = batch.flow_m3h[take]
    flow = np.where(np.isfinite(flow), flow, volume / (ts - last) * HOUR_S)
    flags = batch.flags[take] & _FLAG_MASK
    return _Readings(meters, ts, volume, flow, flags, flags & ~state.last_flags[meters])


def _flags(step: Step, readings: _Readings) -> None:
    """One `meter_flag` event per flag the meter newly raised."""
    if not readings.new_flags.any():
        return
    for bit in range(len(FLAGS)):
        raised = (readings.new_flags >> bit) & 1 == 1
        meters = readings.meters[raised]
        flag = np.full(len(meters), float(bit))
        step.out.event("meter_flag", meters, readings.ts_s[raised], {"flag": flag})


def _hours(step: Step, readings: _Readings) -> None:
    """The hours these readings complete, and the hourly rules (water_hours.py)."""
    meters, state = readings.meters, step.state
    t0 = state.last_ts_s[meters]
    known = np.isfinite(readings.volume_m3) & (readings.ts_s - t0 <= step.rules.max_gap_s)
    start_m3 = state.index_m3[meters]
    walk(step, HourSpan(meters, t0, readings.ts_s, start_m3, readings.volume_m3, known))


def _burst(step: Step, readings: _Readings) -> None:
    """A flow above `burst_share` of Q3 from the first reading above it: a burst once a
    reading above comes `burst_duration_s` after that one. A reading at or below ends it
    (and the run). A reading without a flow (none reported, no interval) does nothing."""
    state, meters, ts, flow = step.state, readings.meters, readings.ts_s, readings.flow_m3h
    limit = step.rules.burst_share * step.rules.q3_m3h[meters]
    above, below = flow > limit, flow <= limit
    since = state.burst_since_s[meters]
    since = np.where(above & np.isnan(since), ts, since)
    active = state.burst_active[meters]
    starts = above & ~active & (ts - since >= step.rules.burst_duration_s)
    ends = below & active
    for change, active_now in ((starts, True), (ends, False)):
        step.out.change(
            "water_burst",
            meters[change],
            active_now,
            (since[change], ts[change]),
            {"flow_m3h": flow[change]},
        )
    state.burst_active[meters] = (active | starts) & ~ends
    state.burst_since_s[meters] = np.where(below, np.nan, since)


def _backflow(step: Step, readings: _Readings) -> None:
    """Water ran back: a volume below minus the resolution, or the meter newly raising its
    backflow flag. It ends at a reading that shows no water ran back (at the index's
    resolution: half of it is a rounding of the caller's subtraction) and no flag."""
    state, meters, ts, volume = step.state, readings.meters, readings.ts_s, readings.volume_m3
    resolution = step.rules.resolution_m3[meters]
    flag = (readings.flags >> _BACKFLOW_BIT) & 1 == 1
    flag_raised = (readings.new_flags >> _BACKFLOW_BIT) & 1 == 1
    back_m3 = np.where(volume < 0, -volume, 0.0)
    active = state.backflow_active[meters]
    starts = ~active & ((volume < -resolution) | flag_raised)
    ends = active & (volume >= -0.5 * resolution) & ~flag
    goes_on = active & ~ends
    m = meters[starts]
    step.out.change(
        "water_backflow", m, True, (ts[starts], ts[starts]), {"volume_m3": back_m3[starts]}
    )
    state.backflow_since_s[m], state.backflow_m3[m] = ts[starts], back_m3[starts]
    m = meters[ends]
    since, run_back = state.backflow_since_s[m], state.backflow_m3[m]
    step.out.change("water_backflow", m, False, (since, ts[ends]), {"volume_m3": run_back})
    state.backflow_m3[meters[goes_on]] += back_m3[goes_on]
    state.backflow_active[meters] = (active | starts) & ~ends


def _progress(step: Step, readings: _Readings) -> None:
    """Add the volume to the index. An index that moved (either way: a meter that runs back
    is not stuck) by more than the resolution since the last progress is progress, and ends
    a stopped meter; a meter's first reading is where progress is measured from."""
    state, meters, ts, volume = step.state, readings.meters, readings.ts_s, readings.volume_m3
    known = np.isfinite(volume)
    state.index_m3[meters[known]] += volume[known]
    index = state.index_m3[meters]
    moved = np.abs(index - state.progress_index_m3[meters]) > step.rules.resolution_m3[meters]
    moved &= known
    ends = moved & state.stopped_active[meters]
    m = meters[ends]
    step.out.change("meter_stopped", m, False, (state.stopped_since_s[m], ts[ends]))
    state.stopped_active[m] = False
    progress = moved | np.isnan(state.last_ts_s[meters])
    state.last_progress_s[meters[progress]] = ts[progress]
    state.progress_index_m3[meters[progress]] = index[progress]
