"""Waste bins: what their fill, temperature and tilt sensors tell the city, one step for all.

A reading updates its bin: full and empty with hysteresis (a fill hovering at 0.9 does not
flicker), emptyings (a fall from the cycle's peak, armed again only once the fill has risen
from the new cycle's low, so that neither noise nor the rest of a dump counts twice), the
cycle's least-squares fill rate and the weekday profile of how fast it fills, fire (hot, or
heating fast) and tilt. `evaluate_bins` raises what only the clock reveals: a collection late
since the last emptying, a scheduled collection day gone by without one (both written in
`bins_forecast`, with when each bin will be full); `bins_reference` is the same rules written
per bin, for reading. The thresholds and readings are in `bins_rules`, what the rules remember
and its packed layout in `bins_state`.

A reading at or before its bin's last one is ignored entirely: a batch delivered again, or
logged readings replayed after a restart, change nothing the second time.
"""

import numpy as np

from controllers.services import bins_forecast
from controllers.services.bins_forecast import HOUR_S
from controllers.services.bins_rules import BinBatch, BinRules
from controllers.services.bins_state import BinState
from controllers.services.changes import BoolArray, Change, Event, FloatArray, IntArray

# The settings, readings and state live in their own modules; callers import them from here.
__all__ = [
    "CHANGE_KINDS",
    "BinBatch",
    "BinRules",
    "BinState",
    "evaluate_bins",
    "in_time_order",
    "step_bins",
]

CHANGE_KINDS = ("bin_full", "bin_fire", "bin_tilt", "collection_late", "missed_pickup")
_NAN = np.nan


def in_time_order(changes: list[Change]) -> list[Change]:
    """By (time, bin, kind): the order of every list of changes of the bins (reference too)."""
    return sorted(changes, key=lambda c: (c.at_s, c.index, CHANGE_KINDS.index(c.kind)))


def step_bins(
    state: BinState, rules: BinRules, batch: BinBatch, utc_offset_s: float
) -> tuple[list[Change], list[Event]]:
    """Apply a batch of readings to every bin; the alerts that started or ended, and the
    emptyings detected, in time order.

    Readings are applied in time order per bin, in rounds of at most one reading per bin (one
    round for a batch of one reading per bin). Readings without a finite time are ignored."""
    if np.any((batch.index < 0) | (batch.index >= state.size)):
        raise ValueError(f"bin index outside 0..{state.size - 1}")
    rows = np.flatnonzero(np.isfinite(batch.ts_s))
    step = _Step(state, rules, utc_offset_s)
    if len(rows) and np.bincount(batch.index[rows]).max() == 1:  # each bin once: one round
        with np.errstate(all="ignore"):
            step.apply(batch, rows)
        return in_time_order(step.changes), sorted(step.events, key=lambda e: (e.at_s, e.index))
    rows = rows[np.argsort(batch.ts_s[rows], kind="stable")]
    rows = rows[np.argsort(batch.index[rows], kind="stable")]  # by bin, then time, then arrival
    bins = batch.index[rows]
    first = np.ones(len(rows), dtype=np.bool_)
    first[1:] = bins[1:] != bins[:-1]
    positions = np.arange(len(rows))
    rank = positions - np.maximum.accumulate(np.where(first, positions, 0))
    with np.errstate(all="ignore"):  # any finite or NaN input: inf and NaN, never a warning
        for round_ in range(int(rank.max()) + 1 if len(rows) else 0):
            step.apply(batch, rows[rank == round_])
    return in_time_order(step.changes), sorted(step.events, key=lambda e: (e.at_s, e.index))


class _Step:
    """One call of step_bins. Each method gets the readings of distinct bins `i` (one round:
    fancy-indexed writes cannot collide) and makes Change objects only where something
    happened (a Python loop over the changes, never over the readings)."""

    def __init__(self, state: BinState, rules: BinRules, utc_offset_s: float) -> None:
        self.state, self.rules, self.offset_s = state, rules, utc_offset_s
        self.changes: list[Change] = []
        self.events: list[Event] = []

    def apply(self, batch: BinBatch, rows: IntArray) -> None:
        state = self.state
        i, ts = batch.index[rows], batch.ts_s[rows]
        fresh = ~(ts <= state.last_ts_s[i])  # a bin never seen has a NaN last time
        rows, i, ts = rows[fresh], i[fresh], ts[fresh]
        temperature = batch.temperature_c[rows]
        known = np.isfinite(temperature)
        self.fire(i[known], ts[known], temperature[known])
        tilt, was = batch.tilt[rows], state.tilted[i]
        tilted = np.where(tilt == 1, True, np.where(tilt == 0, False, was))
        self.switch("bin_tilt", i, ts, tilted, tilt=tilted.astype(np.float64))
        fill = batch.fill[rows]
        ok = batch.valid[rows] & np.isfinite(fill)
        self.fill(i[ok], ts[ok], fill[ok])
        state.last_ts_s[i] = ts

    def switch(
        self, kind: str, i: IntArray, ts: FloatArray, on: BoolArray, **details: FloatArray
    ) -> None:
        """Alert `kind` of bins `i` is `on` (or not) after the readings at `ts`: a change
        where it starts (since then) or ends (since when it started)."""
        flags, since_s = self.state.alert(kind)
        was, began_s = flags[i], since_s[i]
        for active, where, since in ((True, on & ~was, ts), (False, was & ~on, began_s)):
            picked = np.flatnonzero(where)
            columns = {name: values[picked].tolist() for name, values in details.items()}
            for j, (index, start, at) in enumerate(
                zip(i[picked].tolist(), since[picked].tolist(), ts[picked].tolist(), strict=True)
            ):
                numbers = {name: float(column[j]) for name, column in columns.items()}
                self.changes.append(Change(kind, index, active, start, at, numbers))
        flags[i] = on
        since_s[i] = np.where(on, np.where(was, began_s, ts), _NAN)

    def fire(self, i: IntArray, ts: FloatArray, temperature_c: FloatArray) -> None:
        """Hot, or warmer by more than fire_rise_c than the previous temperature (the
        EM400-UDL's own rule: a fire is caught rising before it is hot)."""
        rise = temperature_c - self.state.last_temperature_c[i]
        hot = temperature_c >= self.rules.fire_temperature_c
        rise_c = np.where(np.isfinite(rise), rise, 0.0)
        burning = hot | (rise > self.rules.fire_rise_c)
        self.switch("bin_fire", i, ts, burning, temperature_c=temperature_c, rise_c=rise_c)
        self.state.last_temperature_c[i] = temperature_c

    def fill(self, i: IntArray, ts: FloatArray, fill: FloatArray) -> None:
        """Valid fills: an emptying or the cycle going on, then full and empty."""
        state, rules = self.state, self.rules
        first = np.isnan(state.cycle_start_s[i])
        emptied = ~first & state.armed[i] & (fill <= state.cycle_peak[i] - rules.emptying_drop)
        going, anew = ~first & ~emptied, first | emptied
        self.emptying(i[emptied], ts[emptied], fill[emptied])
        self.cycle_goes_on(i[going], ts[going], fill[going])
        self.start_cycle(i[anew], ts[anew], fill[anew], armed=first[anew])
        # the reading that shows an emptying ends full and cannot start it: the next one judges
        was = state.full[i]
        full = ~emptied & np.where(was, fill > rules.full_off[i], fill >= rules.full_on[i])
        self.switch("bin_full", i, ts, full, fill=fill)
        empty = state.empty[i]
        state.empty[i] = np.where(empty, fill < rules.empty_off[i], fill <= rules.empty_on[i])
        state.fill[i], state.fill_ts_s[i] = fill, ts

    def emptying(self, i: IntArray, ts: FloatArray, fill: FloatArray) -> None:
        """The truck came: a late or missed collection ends."""
        state = self.state
        state.collections[i] += 1
        before, count = state.fill[i].tolist(), state.collections[i].tolist()
        for index, at, fill_before, fill_after, collections in zip(
            i.tolist(), ts.tolist(), before, fill.tolist(), count, strict=True
        ):
            details = {"fill_before": fill_before, "fill_after": fill_after}
            details["collections"] = float(collections)
            self.events.append(Event("bin_emptied", index, at, details))
        done = np.zeros(len(i), dtype=np.bool_)
        self.switch("collection_late", i, ts, done, fill=fill)
        self.switch("missed_pickup", i, ts, done, fill=fill)
        state.last_emptied_s[i] = ts

    def cycle_goes_on(self, i: IntArray, ts: FloatArray, fill: FloatArray) -> None:
        """Low and peak, regression sums, the weekday profile (before fill is updated).

        Until armed, a new low is also the new peak: after an emptying caught halfway down,
        the fall to the bottom would otherwise arm the next emptying (peak - low) and the
        next reading down there would count the same truck twice."""
        state = self.state
        armed, low = state.armed[i], state.cycle_low[i]
        lower = ~armed & (fill < low)  # what arms is a rise after the low, not the fall to it
        state.cycle_low[i] = low = np.where(lower, fill, low)
        state.cycle_peak[i] = peak = np.where(lower, fill, np.maximum(state.cycle_peak[i], fill))
        state.armed[i] = armed | (peak >= low + self.rules.emptying_rearm)
        t_h = (ts - state.cycle_start_s[i]) / HOUR_S
        state.cycle_n[i] += 1
        state.sum_t[i] += t_h
        state.sum_f[i] += fill
        state.sum_tt[i] += t_h * t_h
        state.sum_tf[i] += t_h * fill
        bins_forecast.learn_weekdays(state, i, ts, fill, self.offset_s)

    def start_cycle(self, i: IntArray, ts: FloatArray, fill: FloatArray, armed: BoolArray) -> None:
        """A new cycle from this reading. The first cycle of a bin starts armed: its first
        reading came after no emptying that a noisy fall could count twice, and the truck may
        come before the fill has risen by emptying_rearm (a slow bin seen at 50 % at midnight,
        emptied at 06:00)."""
        state = self.state
        state.cycle_start_s[i], state.cycle_peak[i], state.cycle_low[i] = ts, fill, fill
        state.armed[i], state.cycle_n[i] = armed, 1
        state.sum_t[i], state.sum_f[i], state.sum_tt[i], state.sum_tf[i] = 0.0, fill, 0.0, 0.0


def evaluate_bins(
    state: BinState, rules: BinRules, now_s: float, utc_offset_s: float
) -> list[Change]:
    """The alerts the clock raises at `now_s`, in time order; idempotent, call it any time.

    `collection_late`: more than collection_late_s since the last emptying, since the moment
    that threshold passed. Never raised for a bin whose last emptying is unknown: seen only
    since some fill, it could be late or not, and a false alarm sends a truck for nothing.
    `missed_pickup`: the most recent scheduled collection day (local, in the last 7 days) that
    has ended went by without an emptying, and the bin reported after that day's end (so the
    silence is news, not a gap in the data); since that day's end. Once per missed day: a
    second missed day raises it again, with its own since. Both end at the next emptying
    (step_bins). Written in bins_forecast.collections_due."""
    return in_time_order(bins_forecast.collections_due(state, rules, now_s, utc_offset_s))
