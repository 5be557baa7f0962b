"""The vectorised bin step against its per-bin reference, under any sequence of batches.

Whatever the readings (several per bin and out of order in one batch, delivered twice, old,
invalid, NaN), the thresholds, the collection days and the site's offset from UTC:
`step_bins`, `evaluate_bins` and `forecast_full_s` give what `ReferenceBins` gives, the same
changes and events in the same order, the same forecasts to float tolerance. And no input,
finite or NaN, makes the step raise or warn (every warning is an error here).
"""

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.services.bins import (
    CHANGE_KINDS,
    BinBatch,
    BinRules,
    BinState,
    evaluate_bins,
    step_bins,
)
from controllers.services.bins_forecast import weekday_factors
from controllers.services.bins_reference import ReferenceBins
from controllers.services.changes import Change, Event

MONDAY = 1772409600.0  # 2026-03-02 00:00 UTC
HOUR = 3600.0
# fills and thresholds on a grid too, so that a fill lands exactly on a threshold
GRID = st.sampled_from([round(0.1 * k, 1) for k in range(11)])
OFFSETS_S = st.sampled_from([0.0, 3600.0, 7200.0, -5 * 3600.0, 5.5 * 3600.0, 13 * 3600.0])


@dataclass(frozen=True)
class Timeline:
    rules: BinRules
    batches: list[BinBatch]
    evaluate_after_s: list[float]
    offset_s: float


@st.composite
def rules_for(draw: st.DrawFn, size: int) -> BinRules:
    full_on = np.array(
        draw(st.lists(GRID.filter(lambda f: f >= 0.6), min_size=size, max_size=size))
    )
    empty_on = np.array(
        draw(st.lists(GRID.filter(lambda f: f <= 0.3), min_size=size, max_size=size))
    )
    days = draw(
        st.lists(st.lists(st.booleans(), min_size=7, max_size=7), min_size=size, max_size=size)
    )
    return BinRules(
        full_on=full_on,
        full_off=np.round(full_on - draw(st.sampled_from([0.0, 0.1, 0.2])), 2),
        empty_on=empty_on,
        empty_off=np.round(empty_on + draw(st.sampled_from([0.0, 0.1, 0.2])), 2),
        collection_days=np.array(days, dtype=np.bool_).reshape(size, 7),
        emptying_drop=draw(st.sampled_from([0.1, 0.25, 0.4])),
        emptying_rearm=draw(st.sampled_from([0.0, 0.05, 0.1])),
        min_cycle_readings=draw(st.integers(2, 5)),
        min_cycle_span_s=draw(st.sampled_from([0.0, HOUR, 6 * HOUR])),
        max_forecast_s=draw(st.sampled_from([86400.0, 14 * 86400.0])),
        collection_late_s=draw(st.sampled_from([HOUR * 12, 2 * 86400.0, 7 * 86400.0])),
        fire_rise_c=draw(st.sampled_from([2.0, 5.0])),
        profile_min_hours=draw(st.sampled_from([0.5, 4.0, 24.0])),
    )


@st.composite
def batches_for(draw: st.DrawFn, size: int, k: int, period: int) -> BinBatch:
    """The k-th batch: readings on a half-hour grid, mostly after the previous batch's (some
    older, some at the same time), fills on a ramp emptied every `period` slots or anywhere
    (a jumpy sensor), sometimes unknown or not valid; whole degrees as often as not (a rise
    of exactly fire_rise_c, exactly 60 °C)."""
    ramp = st.just(-1.0)  # on the ramp: (slot % period) / period
    fill = st.one_of(ramp, ramp, GRID, st.floats(-0.05, 1.05), st.just(math.nan))
    reading = st.tuples(
        st.integers(0, size - 1),
        st.integers(max(60 * k - 20, 0), 60 * k + 60),
        fill,
        st.one_of(st.integers(15, 65).map(float), st.floats(-10.0, 90.0), st.just(math.nan)),
        st.integers(-1, 1),
        st.booleans() | st.just(True),
    )
    rows = draw(st.lists(reading, max_size=16))
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(6)]
    index, slot, fills, temperature, tilt, valid = columns
    slots = np.array(slot, dtype=np.float64)
    on_ramp = np.array(fills) == -1.0
    return BinBatch(
        index=np.array(index, dtype=np.int64),
        ts_s=MONDAY + 1800.0 * slots,
        fill=np.where(on_ramp, slots % period / period, np.array(fills, dtype=np.float64)),
        temperature_c=np.array(temperature, dtype=np.float64),
        tilt=np.array(tilt, dtype=np.int8),
        valid=np.array(valid, dtype=np.bool_),
    )


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    size = draw(st.integers(1, 4))
    period = draw(st.sampled_from([48, 240, 480, 960]))  # a day to 20 days between emptyings
    count = draw(st.integers(1, 8))
    batches = [draw(batches_for(size, k, period)) for k in range(count)]
    after = draw(st.lists(st.floats(0, 3 * 86400), min_size=count, max_size=count))
    evaluate_after_s = [MONDAY + 1800.0 * 60 * (k + 1) + a for k, a in enumerate(after)]
    return Timeline(draw(rules_for(size)), batches, evaluate_after_s, draw(OFFSETS_S))


def assert_same_changes(got: list[Change], want: list[Change]) -> None:
    assert [(c.kind, c.index, c.active) for c in got] == [(c.kind, c.index, c.active) for c in want]
    for g, w in zip(got, want, strict=True):
        assert (g.since_s, g.at_s) == pytest.approx((w.since_s, w.at_s), abs=1e-3, nan_ok=True)
        assert g.details.keys() == w.details.keys()
        assert g.details == pytest.approx(w.details, rel=1e-9, abs=1e-9, nan_ok=True)


def assert_same_events(got: list[Event], want: list[Event]) -> None:
    assert [(e.kind, e.index, e.at_s) for e in got] == [(e.kind, e.index, e.at_s) for e in want]
    for g, w in zip(got, want, strict=True):
        assert g.details == pytest.approx(w.details, rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_the_vectorised_step_gives_what_the_reference_gives(timeline: Timeline) -> None:
    rules, offset_s = timeline.rules, timeline.offset_s
    size = len(rules.full_on)
    state, reference = BinState(size), ReferenceBins(rules)
    for batch, now_s in zip(timeline.batches, timeline.evaluate_after_s, strict=True):
        changes, events = step_bins(state, rules, batch, offset_s)
        want_changes, want_events = reference.step(batch, offset_s)
        assert_same_changes(changes, want_changes)
        assert_same_events(events, want_events)
        np.testing.assert_allclose(
            state.fill_rate_per_day(rules), reference.fill_rate_per_day(), rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            state.forecast_full_s(rules, now_s, offset_s),
            reference.forecast_full_s(now_s, offset_s),
            rtol=0,
            atol=1.0,
        )
        assert_same_changes(
            evaluate_bins(state, rules, now_s, offset_s), reference.evaluate(now_s, offset_s)
        )
    again = BinState(size)
    again.unpack(np.arange(size), state.pack(np.arange(size)))
    last = timeline.batches[-1]
    assert step_bins(state, rules, last, offset_s) == ([], [])  # all seen: nothing new
    np.testing.assert_array_equal(state.pack(np.arange(size)), again.pack(np.arange(size)))


ANY_FLOAT = st.floats(allow_infinity=False)  # finite or NaN, huge or tiny


@st.composite
def wild_batches(draw: st.DrawFn, size: int) -> BinBatch:
    n = draw(st.integers(0, 8))

    def floats() -> np.ndarray:
        return np.array(draw(st.lists(ANY_FLOAT, min_size=n, max_size=n)), dtype=np.float64)

    return BinBatch(
        index=np.array(draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)), np.int64),
        ts_s=floats(),
        fill=floats(),
        temperature_c=floats(),
        tilt=np.array(draw(st.lists(st.integers(-128, 127), min_size=n, max_size=n)), np.int8),
        valid=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.bool_),
    )


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(1, 3), st.floats(-14 * HOUR, 14 * HOUR), ANY_FLOAT)
def test_no_input_makes_the_step_raise_or_warn(
    data: st.DataObject, size: int, offset_s: float, now_s: float
) -> None:
    days = np.array(data.draw(st.lists(st.booleans(), min_size=7 * size, max_size=7 * size)))
    uniform = BinRules.uniform(size, min_cycle_span_s=0.0, profile_min_hours=0.0)
    rules = replace(uniform, collection_days=days.reshape(size, 7))
    state = BinState(size)
    for batch in data.draw(st.lists(wild_batches(size), min_size=1, max_size=4)):
        changes, events = step_bins(state, rules, batch, offset_s)
        assert all(c.kind in CHANGE_KINDS for c in changes)
        assert all(e.kind == "bin_emptied" for e in events)
        assert len(state.forecast_full_s(rules, now_s, offset_s)) == size
        assert len(state.fill_rate_per_day(rules)) == size
        evaluate_bins(state, rules, now_s, offset_s)


@st.composite
def weekly_fillers(draw: st.DrawFn) -> tuple[BinRules, BinBatch]:
    """Bins that fill faster on some weekdays than on others, read about every 6 hours over
    two weeks without an emptying: every weekday has history, the forecast walks the profile."""
    size = draw(st.integers(1, 3))
    index, ts, fill = [], [], []
    for b in range(size):
        jitter = draw(st.lists(st.integers(0, 11), min_size=56, max_size=56))
        slots = 12 * np.arange(56) + np.array(jitter)  # about every 6 h, at random times
        per_day = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=7, max_size=7)))
        day = ((MONDAY + 1800.0 * slots) // 86400 + 3) % 7
        rise = np.concatenate([[0.0], per_day[day[1:].astype(int)] * np.diff(slots)])
        top = draw(st.floats(0.2, 0.85))
        index += [b] * len(slots)
        ts += list(MONDAY + 1800.0 * slots)
        fill += list(0.05 + top * np.cumsum(rise) / max(rise.sum(), 1e-9))
    rules = BinRules.uniform(size, profile_min_hours=draw(st.sampled_from([1.0, 12.0])))
    batch = BinBatch(
        index=np.array(index, dtype=np.int64),
        ts_s=np.array(ts),
        fill=np.array(fill),
        temperature_c=np.full(len(ts), math.nan),
        tilt=np.full(len(ts), -1, dtype=np.int8),
        valid=np.ones(len(ts), dtype=np.bool_),
    )
    return rules, batch


@settings(max_examples=60, deadline=None)
@given(weekly_fillers(), OFFSETS_S, st.lists(st.floats(0, 20 * 86400), min_size=1, max_size=3))
def test_forecasts_along_a_weekday_profile_agree_with_the_reference(
    filler: tuple[BinRules, BinBatch], offset_s: float, after_s: list[float]
) -> None:
    rules, batch = filler
    state, reference = BinState(len(rules.full_on)), ReferenceBins(rules)
    step_bins(state, rules, batch, offset_s)
    reference.step(batch, offset_s)
    assert weekday_factors(state, rules)[1].any()
    for now_s in (MONDAY + 14 * 86400 + a for a in after_s):
        np.testing.assert_allclose(
            state.forecast_full_s(rules, now_s, offset_s),
            reference.forecast_full_s(now_s, offset_s),
            rtol=0,
            atol=1.0,
        )
