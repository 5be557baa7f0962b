"""Water meters: leak, burst, backflow, stopped meter, night flow and high consumption, for
every meter in one step.

A reading brings a signed volume since the meter's previous one (the caller resolved the
index's rollover), maybe an instantaneous flow, and the meter's own alarm flags. Two kinds of
rule follow:
- per reading: the meter's flags newly raised (events), a burst (a flow above a share of Q3
  for half an hour), backflow (the index ran back), progress of the index (a stopped meter
  ends);
- per completed hour (water_hours.py turns readings into hours, water_hourly.py holds these
  rules): a leak (Kamstrup: no hour without flow for a day), the night flow (the driest hour
  between 02:00 and 05:00 local), and the consumption of a period (a week from local
  midnight) against the usual one.
`evaluate_water` adds the one rule that needs the present: a meter that still reports but
whose index has not moved for four weeks.

Every time in a change comes from the data (changes.py): replaying the same readings after a
restart gives the same changes. A reading not newer than the meter's last is ignored, so a
replay changes nothing at all. The thresholds and readings are in water_rules.py, what the
rules remember and its packed layout in water_state.py.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from controllers.services.changes import Change, Event, FloatArray, IntArray
from controllers.services.water_hourly import walk
from controllers.services.water_hours import HOUR_S, HourSpan, Outcome, Step
from controllers.services.water_rules import FLAGS, WaterBatch, WaterRules
from controllers.services.water_state import WaterState

# The settings, readings and state live in their own modules; callers import them from here.
__all__ = ["FLAGS", "WaterBatch", "WaterRules", "WaterState", "evaluate_water", "step_water"]

_FLAG_MASK = (1 << len(FLAGS)) - 1
_BACKFLOW_BIT = FLAGS.index("backflow")
_DAY_S = 86400.0
# A meter "still reports" (the stopped rule) when its last reading is at most this old.
_REPORTING_S = _DAY_S


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
    order (ties in batch order), so a round has at most one reading per meter. The common
    batch (a report round: each meter once) is one round as it is, without sorting (a sort
    of 100,000 readings is a third of such a step)."""
    if len(batch.index) and np.bincount(batch.index).max() == 1:
        yield np.arange(len(batch.index))
        return
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
    """The hours these readings complete, and the hourly rules (water_hourly.py)."""
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
