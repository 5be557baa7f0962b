"""What the clock says about the bins: when each will be full, which collection is overdue.

The rate is the least-squares slope of the cycle's valid fills (a line through every point,
not the last two, so that one noisy reading does not swing the forecast). A bin that fills
faster at the weekend (a market, a park) gets a weekday profile once every weekday has
`profile_min_hours` of history: the rate of each weekday relative to the bin's mean rate. The
forecast then walks day by day from the last valid reading, each day filling at the cycle's
rate times its weekday's factor, all bins at once ([bins, days] arrays).

A forecast further than max_forecast_s from the last valid reading (or from now, if that is
earlier) is NaN: extrapolating that far says more about the noise than about the bin. A
forecast may be before now: the last reading is old and the bin should be full by now.

`collections_due` raises collection_late and missed_pickup (bins.evaluate_bins); the
emptying that ends them is a reading's, in bins.step_bins.
"""

import math
from typing import TYPE_CHECKING

import numpy as np

from controllers.services.changes import BoolArray, Change, FloatArray, IntArray

if TYPE_CHECKING:
    from controllers.services.bins_rules import BinRules
    from controllers.services.bins_state import BinState

DAY_S = 86400.0
HOUR_S = 3600.0
_THURSDAY = 3  # 1970-01-01, day 0 of the epoch; Monday is 0


def weekday(ts_s: FloatArray, utc_offset_s: float) -> IntArray:
    """Local weekday of each time, Monday 0 (-1: not a finite time)."""
    day = np.floor((ts_s + utc_offset_s) / DAY_S)
    known = np.isfinite(day)
    return np.where(known, np.mod(np.where(known, day, 0.0) + _THURSDAY, 7), -1).astype(np.int64)


def learn_weekdays(
    state: "BinState", i: IntArray, ts_s: FloatArray, fill: FloatArray, utc_offset_s: float
) -> None:
    """The rise since each bin's previous valid reading (within the cycle) and the hours it
    took go to the local weekday of the interval's midpoint."""
    before_s = state.fill_ts_s[i]
    day = weekday((before_s + ts_s) / 2, utc_offset_s)
    known = day >= 0
    gain = np.maximum(fill - state.fill[i], 0.0)
    state.weekday_gain[i[known], day[known]] += gain[known]
    state.weekday_hours[i[known], day[known]] += ((ts_s - before_s) / HOUR_S)[known]


def fill_rate_per_day(state: "BinState", rules: "BinRules") -> FloatArray:
    """Slope of fill over time in the cycle, ratio per day; NaN with fewer than
    min_cycle_readings valid readings or a span shorter than min_cycle_span_s."""
    n = state.cycle_n.astype(np.float64)
    with np.errstate(all="ignore"):
        slope_per_h = (n * state.sum_tf - state.sum_t * state.sum_f) / (
            n * state.sum_tt - state.sum_t * state.sum_t
        )
        span_s = state.fill_ts_s - state.cycle_start_s
        enough = (state.cycle_n >= rules.min_cycle_readings) & (span_s >= rules.min_cycle_span_s)
        rate = slope_per_h * 24.0
    return np.where(enough & np.isfinite(rate), rate, np.nan)


def weekday_factors(state: "BinState", rules: "BinRules") -> tuple[FloatArray, BoolArray]:
    """[N, 7] each weekday's fill rate over the bin's mean rate, and whether the profile is in
    use (every weekday has profile_min_hours of history and the bin has ever risen)."""
    gain, hours = state.weekday_gain, state.weekday_hours
    with np.errstate(all="ignore"):
        mean_per_h = gain.sum(axis=1) / hours.sum(axis=1)
        factors = gain / hours / mean_per_h[:, None]
    used: BoolArray = (hours >= rules.profile_min_hours).all(axis=1) & (mean_per_h > 0)
    used &= np.isfinite(mean_per_h)
    used &= np.isfinite(factors).all(axis=1)
    return factors, used


def forecast_full_s(
    state: "BinState", rules: "BinRules", now_s: float, utc_offset_s: float
) -> FloatArray:
    """FIWARE nextActuationDeadline: when each bin reaches full_on, epoch s.

    A full bin: the time it became full (not later than now). Otherwise NaN without a rate
    (fill_rate_per_day), with a rate <= 0 or beyond the horizon (module docstring)."""
    rate = fill_rate_per_day(state, rules)
    with np.errstate(all="ignore"):
        start_s = state.fill_ts_s
        remaining = np.maximum(rules.full_on - state.fill, 0.0)
        horizon_s = np.fmin(start_s, now_s) + rules.max_forecast_s
        at_s = start_s + remaining / rate * DAY_S
        factors, used = weekday_factors(state, rules)
        used &= rate > 0
        per_h = rate[used, None] / 24.0 * factors[used]
        at_s[used] = _walk_days(
            start_s[used], remaining[used], per_h, rules.max_forecast_s, utc_offset_s
        )
        at_s = np.where((rate > 0) & (at_s <= horizon_s), at_s, np.nan)
        return np.where(state.full, np.fmin(state.full_since_s, now_s), at_s)


def _walk_days(
    start_s: FloatArray,
    remaining: FloatArray,
    week_per_h: FloatArray,
    max_forecast_s: float,
    utc_offset_s: float,
) -> FloatArray:
    """Fill day by day from `start_s` ([bins, days]: the first day from the reading to local
    midnight, then whole days), at `week_per_h` [bins, 7] on each local weekday, until
    `remaining` is reached; NaN if not within max_forecast_s and a day or two."""
    columns = max(math.ceil(max_forecast_s / DAY_S), 0) + 2
    day = np.floor((start_s + utc_offset_s) / DAY_S)[:, None] + np.arange(columns)
    begin_s = np.maximum(day * DAY_S - utc_offset_s, start_s[:, None])
    end_s = (day + 1) * DAY_S - utc_offset_s
    known = np.isfinite(day)
    weekdays = np.mod(np.where(known, day, 0.0) + _THURSDAY, 7).astype(np.intp)
    per_h = np.take_along_axis(week_per_h, weekdays, axis=1)
    filled = np.cumsum(per_h * ((end_s - begin_s) / HOUR_S), axis=1)
    reached = filled >= remaining[:, None]
    k = np.argmax(reached, axis=1)[:, None]
    at_s = (
        np.take_along_axis(end_s, k, axis=1)
        - (np.take_along_axis(filled, k, axis=1) - remaining[:, None])
        / np.take_along_axis(per_h, k, axis=1)
        * HOUR_S
    )[:, 0]
    at_s = np.where(remaining <= 0, start_s, at_s)
    return np.where(reached.any(axis=1) & known.all(axis=1), at_s, np.nan)


def collections_due(
    state: "BinState", rules: "BinRules", now_s: float, utc_offset_s: float
) -> list[Change]:
    """collection_late and missed_pickup that start at `now_s`, their flags set so that the
    next call does not raise them again: the rules of bins.evaluate_bins."""
    if not math.isfinite(now_s):
        return []
    with np.errstate(all="ignore"):
        return _late(state, rules, now_s) + _missed(state, rules, now_s, utc_offset_s)


def _late(state: "BinState", rules: "BinRules", now_s: float) -> list[Change]:
    due = ~state.late & (now_s - state.last_emptied_s > rules.collection_late_s)
    since_s = state.last_emptied_s + rules.collection_late_s
    state.late |= due
    state.late_since_s[due] = since_s[due]
    days = rules.collection_late_s / DAY_S
    return [
        Change(
            "collection_late", index, True, since, since, {"fill": fill, "days_since_emptied": days}
        )
        for index, since, fill in zip(
            np.flatnonzero(due).tolist(),
            since_s[due].tolist(),
            state.fill[due].tolist(),
            strict=True,
        )
    ]


def _missed(
    state: "BinState", rules: "BinRules", now_s: float, utc_offset_s: float
) -> list[Change]:
    """The 7 local days that ended last, most recent first, hold each weekday once: the first
    scheduled one is the bin's latest collection day. A bin watched since before that day
    (its cycle began before it) was not collected, even one never seen emptied (a new bin),
    when its fill is at least emptying_drop within the day after (lower, an emptying could
    have gone unseen)."""
    today = np.floor((now_s + utc_offset_s) / DAY_S)  # a float: any finite now_s will do
    days = today - np.arange(1.0, 8.0)
    scheduled = rules.collection_days[:, np.mod(days + _THURSDAY, 7).astype(np.intp)]
    day = days[np.argmax(scheduled, axis=1)]
    start_s = day * DAY_S - utc_offset_s
    end_s = start_s + DAY_S
    same_day = state.missed_day_s + DAY_S / 2 >= end_s  # an hour of DST is still the same day
    due = scheduled.any(axis=1) & (state.cycle_start_s < start_s) & (state.last_ts_s >= end_s)
    # Only a bin whose emptying would have shown, judged in the day after: one under
    # emptying_drop could have been emptied with no fall the rule can see (and, days later,
    # have filled past it again); a false alarm sends a truck for nothing.
    judged = (state.fill >= rules.emptying_drop) & (now_s - end_s <= DAY_S)
    due &= ~same_day & judged
    state.missed |= due
    state.missed_since_s[due] = state.missed_day_s[due] = end_s[due]
    rows = zip(
        np.flatnonzero(due).tolist(),
        end_s[due].tolist(),
        state.fill[due].tolist(),
        np.mod(day[due] + _THURSDAY, 7).tolist(),
        strict=True,
    )
    return [
        Change("missed_pickup", index, True, end, end, {"fill": fill, "weekday": float(weekday)})
        for index, end, fill, weekday in rows
    ]
