"""The rules that run when a meter's hour completes, all meters that completed one at once:
the leak (Kamstrup: no hour without flow for a day), the night flow (the driest hour of the
night, local time) and the consumption of a period against the usual one.

`walk` drives them: it completes the hours each reading's move closes, one boundary at a time
(water_hours.py holds that machinery: the ring, the span, where the changes go), runs these
rules after each, then lets a long silence's skipped hours close what they still close. Kept
apart from the per-reading rules (water.py): they see hours, never readings.
"""

import numpy as np

from controllers.services.changes import BoolArray, FloatArray, IntArray
from controllers.services.water_hours import (
    HOUR_S,
    PERIOD_KNOWN_SHARE,
    PERIOD_ORIGIN_S,
    Completed,
    HourRing,
    HourSpan,
    Step,
)


def walk(step: Step, span: HourSpan) -> None:
    """Complete the hours each move closes, one boundary at a time for all meters, the
    hourly rules after each; then the rest of a long silence in one go."""
    walked = int(min(span.crossed.max(initial=0), step.rules.boundary_cap))
    for k in range(1, walked + 1):
        done = span.complete(step.state.ring, k)
        _leak(step, done)
        _night(step, done)
        _period(step, done)
    skipped = span.finish(step.state.ring, walked)
    _silence(step, span, skipped, walked)


def _leak(step: Step, done: Completed) -> None:
    """Kamstrup's rule after a known hour: a meter with no dry hour in the window and enough
    known ones leaks, since the start of its run of flowing hours, at the rate of its driest
    hour; an active leak ends at its first known dry hour. Unknown hours do nothing."""
    state, rules, out = step.state, step.rules, step.out
    known = np.isfinite(done.volume_m3)
    meters, volume, end_s = done.meters[known], done.volume_m3[known], done.end_s[known]
    dry_m3 = rules.leak_sensitivity * rules.q3_m3h[meters]  # × one hour: m³
    dry = volume < dry_m3
    active = state.leak_active[meters]

    ends = active & dry
    m = meters[ends]
    since, rate = state.leak_since_s[m], state.leak_rate_m3h[m]
    lost = rate * ((end_s[ends] - HOUR_S - since) / HOUR_S)  # its hours; not the dry one
    out.change("water_leak", m, False, (since, end_s[ends]), {"rate_m3h": rate, "volume_m3": lost})
    state.leak_active[m] = False
    going = meters[active & ~dry]
    state.leak_rate_m3h[going] = np.fmin(state.leak_rate_m3h[going], volume[active & ~dry])

    maybe = ~active & ~dry & ~rules.continuous_flow_expected[meters]
    m, dry_m3, end_s = meters[maybe], dry_m3[maybe], end_s[maybe]
    window = state.ring.last(m, rules.leak_window_h)
    enough = np.isfinite(window).sum(axis=1) >= rules.leak_min_known_h
    leaks = enough & ~(window < dry_m3[:, None]).any(axis=1)
    m, dry_m3, end_s = m[leaks], dry_m3[leaks], end_s[leaks]
    rate = np.fmin.reduce(window[leaks], axis=1)
    since = _run_start_s(state.ring, m, dry_m3)
    lost = rate * ((end_s - since) / HOUR_S)
    out.change("water_leak", m, True, (since, end_s), {"rate_m3h": rate, "volume_m3": lost})
    state.leak_active[m] = True
    state.leak_since_s[m], state.leak_rate_m3h[m] = since, rate


def _run_start_s(ring: HourRing, meters: IntArray, dry_m3: FloatArray) -> FloatArray:
    """When each meter's run of flowing hours began: the start of the first known hour after
    its last known dry hour in the ring (the first known hour if none is dry). An unknown
    hour before the run is not claimed for it: nothing says the water ran then."""
    hours = ring.last(meters, ring.hours)
    dry = hours < dry_m3[:, None]
    position = np.arange(ring.hours)
    last_dry = np.where(dry.any(axis=1), ring.hours - 1 - np.argmax(dry[:, ::-1], axis=1), -1)
    after = np.isfinite(hours) & (position[None, :] > last_dry[:, None])
    first = np.argmax(after, axis=1)
    since: FloatArray = (ring.newest_hour[meters] - ring.hours + 1 + first) * HOUR_S
    return since


def _local_hour(hour: FloatArray, utc_offset_s: float) -> FloatArray:
    """The local hour (0-23) an hour number starts in (a half-hour offset: the hour it starts
    in, 02:30 is hour 2)."""
    local: FloatArray = np.mod(hour + np.floor(utc_offset_s / HOUR_S), 24)
    return local


def _night(step: Step, done: Completed) -> None:
    """When the night's last hour completes: its driest known hour is the night flow (an
    event when one is known: NaN remembered otherwise)."""
    state, rules = step.state, step.rules
    last_hour = (rules.night_end_h - 1) % 24
    ends = _local_hour(done.hour, step.utc_offset_s) == last_hour
    meters = done.meters[ends]
    night = np.fmin.reduce(state.ring.last(meters, rules.night_hours), axis=1)
    state.night_m3h[meters] = night
    seen = np.isfinite(night)
    step.out.event("night_flow", meters[seen], done.end_s[ends][seen], {"m3h": night[seen]})


def _period_of(step: Step, time_s: FloatArray) -> FloatArray:
    """The number of the consumption period `time_s` falls in (periods start at local
    midnight: multiples of the period from PERIOD_ORIGIN_S, shifted by the UTC offset)."""
    period_s = step.rules.consumption_period_s
    local_s = time_s + step.utc_offset_s - PERIOD_ORIGIN_S
    period: FloatArray = np.floor(local_s / period_s)
    return period


def _period(step: Step, done: Completed) -> None:
    """Add a completed hour to the period it starts in; close a period whose end it
    reached. A later period than the open one (the UTC offset moved) closes the open one."""
    state, meters = step.state, done.meters
    hour_period = _period_of(step, done.hour * HOUR_S)
    opening = np.isnan(state.period[meters])
    state.period[meters[opening]] = hour_period[opening]
    late = hour_period > state.period[meters]
    _close(step, meters[late], hour_period[late])
    known = np.isfinite(done.volume_m3)
    state.period_m3[meters[known]] += done.volume_m3[known]
    state.period_known_h[meters[known]] += 1
    end_period = _period_of(step, done.end_s)
    over = end_period > state.period[meters]
    _close(step, meters[over], end_period[over])


def _close(step: Step, meters: IntArray, following: FloatArray) -> None:
    """Judge the open period against the usual (if enough of it is known), let it join the
    history, and open period `following`."""
    if not len(meters):
        return
    state, rules, out = step.state, step.rules, step.out
    period_s = rules.consumption_period_s
    volume, count = state.period_m3[meters], state.past_count[meters]
    judged = state.period_known_h[meters] >= PERIOD_KNOWN_SHARE * period_s / HOUR_S
    usual = state.past_m3[meters] / np.maximum(count, 1)
    high = judged & (count > 0) & (usual > 0) & (volume > rules.consumption_factor * usual)
    start_s = state.period[meters] * period_s + PERIOD_ORIGIN_S - step.utc_offset_s
    end_s = start_s + period_s
    details = {"period_m3": volume, "usual_m3": usual, "history_periods": count}
    starts = high & ~state.high_active[meters]
    ends = judged & ~high & state.high_active[meters]
    pick = {key: value[starts] for key, value in details.items()}
    out.change("high_consumption", meters[starts], True, (start_s[starts], end_s[starts]), pick)
    pick = {key: value[ends] for key, value in details.items()}
    since = state.high_since_s[meters[ends]]
    out.change("high_consumption", meters[ends], False, (since, end_s[ends]), pick)
    state.high_active[meters[starts]] = True
    state.high_active[meters[ends]] = False
    state.high_since_s[meters[starts]] = start_s[starts]
    # Once the history is full, its sum decays by one period's share before the new one is
    # added: a running mean that approximates the sliding mean of the last history_periods
    # periods (three years of weeks) without keeping them.
    full = judged & (count >= rules.history_periods)
    keep = (rules.history_periods - 1) / rules.history_periods
    state.past_m3[meters[full]] = state.past_m3[meters[full]] * keep + volume[full]
    grows = judged & ~full
    state.past_m3[meters[grows]] += volume[grows]
    state.past_count[meters[grows]] += 1
    state.period[meters] = following
    state.period_m3[meters], state.period_known_h[meters] = 0.0, 0.0


def _silence(step: Step, span: HourSpan, skipped: BoolArray, walked: int) -> None:
    """What the skipped hours of a long silence (all unknown) still do: a night ending in
    them has no known hour (its night flow is unknown), and the period open when the walk
    stopped closes if the silence reached its end (a period wholly inside has no known hour:
    it is not judged, so nothing needs doing for it)."""
    if not skipped.any():
        return
    state, rules = step.state, step.rules
    meters = span.meters[skipped]
    first = span.first_hour[skipped] + walked
    count = span.crossed[skipped] - walked
    to_night_end = np.mod((rules.night_end_h - 1) % 24 - _local_hour(first, step.utc_offset_s), 24)
    state.night_m3h[meters[to_night_end < count]] = np.nan
    reached = _period_of(step, span.last_hour[skipped] * HOUR_S)
    over = reached > state.period[meters]
    _close(step, meters[over], reached[over])
