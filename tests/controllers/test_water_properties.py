"""The vectorised water step against the per-meter reference, on random fleets and readings:
the same changes, events, hours, night flows and leak volumes. And no input of finite or NaN
numbers makes it raise."""

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.services.changes import Change, Event
from controllers.services.water import (
    FLAGS,
    WaterBatch,
    WaterRules,
    WaterState,
    evaluate_water,
    step_water,
)
from controllers.services.water_reference import ReferenceWater
from tests.conftest import DECODER_EXAMPLES

HOUR = 3600.0
T0 = 19676 * 86400.0  # a UTC midnight
# A fleet's example runs a few days of readings through both implementations (~50 ms): a
# fifth of the decoders' count (60 here, 400 in CI; LUCIOLE_EXAMPLES scales both).
EXAMPLES = max(10, DECODER_EXAMPLES // 5)


@dataclass(frozen=True)
class Fleet:
    rules: WaterRules
    hours: int


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    """Small windows and short periods, so that a few days of readings exercise every rule."""
    n = draw(st.integers(1, 3))
    window = draw(st.integers(2, 6))
    night_start = draw(st.integers(0, 23))
    night_end = (night_start + draw(st.integers(1, 4))) % 24
    rules = WaterRules.uniform(
        n,
        leak_window_h=window,
        leak_min_known_h=draw(st.integers(1, window)),
        leak_sensitivity=draw(st.sampled_from([0.005, 0.02, 0.1])),
        burst_share=draw(st.sampled_from([0.05, 0.2])),
        burst_duration_s=draw(st.sampled_from([0.0, 600.0, 1800.0])),
        stopped_after_s=draw(st.sampled_from([2 * HOUR, 12 * HOUR, 2 * 86400.0])),
        max_gap_s=draw(st.sampled_from([1800.0, 3600.0, 7200.0, 10800.0])),
        night_start_h=night_start,
        night_end_h=night_end,
        consumption_factor=draw(st.sampled_from([1.2, 2.0])),
        consumption_period_s=draw(st.sampled_from([HOUR, 6 * HOUR, 86400.0])),
        history_periods=draw(st.integers(1, 4)),
    )
    rules.q3_m3h[:] = draw(st.lists(st.sampled_from([0.5, 1.6, 2.5]), min_size=n, max_size=n))
    rules.continuous_flow_expected[:] = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    rules.resolution_m3[:] = draw(
        st.lists(st.sampled_from([0.0, 0.001, 0.01]), min_size=n, max_size=n)
    )
    hours = max(window, rules.night_hours) + draw(st.integers(0, 3))
    return Fleet(rules, hours)


# Rates hold for a while (a meter's water is not white noise): dry, a leak, a tap, a burst.
RATES = st.sampled_from([0.0, 0.0, 0.005, 0.03, 0.1, 0.6, 1.5])
ODD_VOLUMES = st.sampled_from([math.nan, -0.02, -0.0005, 0.0])
FLOWS = st.one_of(st.just(math.nan), st.just(math.nan), st.just(math.nan), st.floats(0.0, 3.0))
FLAG_BITS = st.one_of(
    st.just(0), st.just(0), st.just(0), st.just(1 << FLAGS.index("backflow")), st.integers(0, 1023)
)
# Minutes between a meter's readings: mostly close (interpolated hours), sometimes on the
# same second (ignored), sometimes a silence longer than any gap, once in a while a month.
STEPS = st.one_of(
    st.sampled_from([5, 15, 15, 20, 30, 45, 60]),
    st.sampled_from([0, 90, 150, 600, 40 * 24 * 60]),
    st.integers(1, 200),
)
Row = tuple[int, float, float, float, int]


@st.composite
def readings(draw: st.DrawFn, n: int) -> list[list[Row]]:
    """Batches of readings: each meter's own sequence in time, cut into batches that
    interleave the meters; a batch may also repeat readings already sent (a replay)."""
    clocks = [T0 + draw(st.integers(0, 3 * 60)) * 60.0 for _ in range(n)]
    rates = [draw(RATES) for _ in range(n)]
    rows: list[Row] = []
    steps = st.tuples(
        st.integers(0, n - 1),
        STEPS,
        st.one_of(st.none(), st.none(), st.none(), st.none(), RATES),  # the rate changes
        st.one_of(*[st.none()] * 8, ODD_VOLUMES),  # a volume out of the run
        FLOWS,
        FLAG_BITS,
    )
    for meter, minutes, rate, odd, flow, flags in draw(st.lists(steps, min_size=30, max_size=100)):
        clocks[meter] += minutes * 60.0
        rates[meter] = rates[meter] if rate is None else rate
        volume = rates[meter] * minutes / 60.0 if odd is None else odd
        rows.append((meter, clocks[meter], volume, flow, flags))
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    batches = [rows[a:b] for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True)]
    return [draw(st.permutations(batch)) for batch in batches if batch]


def to_batch(rows: list[Row]) -> WaterBatch:
    return WaterBatch(
        index=np.array([r[0] for r in rows], dtype=np.int64),
        ts_s=np.array([r[1] for r in rows], dtype=np.float64),
        volume_m3=np.array([r[2] for r in rows], dtype=np.float64),
        flow_m3h=np.array([r[3] for r in rows], dtype=np.float64),
        flags=np.array([r[4] for r in rows], dtype=np.int64),
    )


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def same_changes(fast: list[Change], slow: list[Change]) -> None:
    assert [(c.kind, c.index, c.active) for c in fast] == [
        (c.kind, c.index, c.active) for c in slow
    ], (fast, slow)
    for a, b in zip(fast, slow, strict=True):
        assert close(a.since_s, b.since_s) and close(a.at_s, b.at_s), (a, b)
        assert a.details.keys() == b.details.keys(), (a, b)
        assert all(close(a.details[k], b.details[k]) for k in a.details), (a, b)


def same_events(fast: list[Event], slow: list[Event]) -> None:
    assert [(e.kind, e.index) for e in fast] == [(e.kind, e.index) for e in slow], (fast, slow)
    for a, b in zip(fast, slow, strict=True):
        assert close(a.at_s, b.at_s), (a, b)
        assert all(close(a.details[k], b.details[k]) for k in a.details), (a, b)


def same_numbers(fast: np.ndarray, slow: list[float] | list[list[float]]) -> None:
    np.testing.assert_allclose(fast, np.array(slow, dtype=np.float64), rtol=1e-9, atol=1e-12)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_vectorised_step_gives_what_the_reference_gives(data: st.DataObject) -> None:
    fleet = data.draw(fleets())
    rules, n = fleet.rules, len(fleet.rules.q3_m3h)
    state, reference = WaterState(n, fleet.hours), ReferenceWater(rules, fleet.hours)
    for rows in data.draw(readings(n)):
        offset = data.draw(st.sampled_from([0.0, HOUR, -1800.0, 19800.0]))
        replay = data.draw(st.booleans())
        for batch in [to_batch(rows)] * (2 if replay else 1):
            fast, slow = step_water(state, rules, batch, offset), reference.step(batch, offset)
            same_changes(fast[0], slow[0])
            same_events(fast[1], slow[1])
        now = T0 + data.draw(st.integers(0, 45 * 24)) * HOUR
        same_changes(evaluate_water(state, rules, now, offset), reference.evaluate(now, offset))
        same_numbers(state.leak_volume_m3(now), reference.leak_volume_m3(now))
        same_numbers(state.night_flow_m3h(), reference.night_flow_m3h())
        same_numbers(state.hourly_m3(fleet.hours), reference.hourly_m3(fleet.hours))


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_packed_state_restarts_where_it_stood(data: st.DataObject) -> None:
    fleet = data.draw(fleets())
    rules, n = fleet.rules, len(fleet.rules.q3_m3h)
    state = WaterState(n, fleet.hours)
    first, *rest = data.draw(readings(n))
    step_water(state, rules, to_batch(first), 0.0)
    meters = np.arange(n)
    restarted = WaterState(n, fleet.hours)
    restarted.unpack(meters, state.pack(meters))
    np.testing.assert_array_equal(restarted.pack(meters), state.pack(meters))
    for rows in rest:
        batch = to_batch(rows)
        assert step_water(restarted, rules, batch, 0.0) == step_water(state, rules, batch, 0.0)
    np.testing.assert_array_equal(restarted.pack(meters), state.pack(meters))


ANY = st.floats(allow_nan=True, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.one_of(st.floats(-1e15, 1e15), st.just(math.nan), ANY),
            ANY,
            ANY,
            st.integers(-(2**62), 2**62),
        ),
        max_size=30,
    ),
    st.floats(-50000, 50000),
)
def test_no_finite_or_nan_input_raises(rows: list[Row], offset: float) -> None:
    rules = WaterRules.uniform(2)
    state = WaterState(2)
    batch = to_batch(rows)
    step_water(state, rules, batch, offset)
    step_water(state, rules, batch, offset)
    finite = [r[1] for r in rows if math.isfinite(r[1])]
    now = max(finite, default=0.0)
    evaluate_water(state, rules, now, offset)
    state.leak_volume_m3(now)
    state.hourly_m3(48)
    assert state.pack(np.arange(2)).shape == (2, state.width)
