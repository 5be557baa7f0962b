"""Waste bins, one hand-written life at a time: filling, full, emptied, forecast, late, missed,
fire, tilt; invalid readings, readings delivered twice, and a restart from the packed state."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest

from controllers.services.bins import BinBatch, BinRules, BinState, evaluate_bins, step_bins
from controllers.services.bins_forecast import weekday_factors
from controllers.services.changes import Change, Event

MONDAY = datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # 00:00 UTC
HOUR, DAY = 3600.0, 86400.0


def batch(
    index: npt.ArrayLike,
    ts_s: npt.ArrayLike,
    fill: npt.ArrayLike = np.nan,
    *,
    temperature_c: npt.ArrayLike = np.nan,
    tilt: npt.ArrayLike = -1,
    valid: npt.ArrayLike = True,
) -> BinBatch:
    """Readings from scalars or sequences, broadcast to one length."""
    columns = np.broadcast_arrays(
        np.asarray(index), np.asarray(ts_s), np.asarray(fill), np.asarray(temperature_c),
        np.asarray(tilt), np.asarray(valid),
    )  # fmt: skip
    i, ts, f, temp, t, v = (np.atleast_1d(c) for c in columns)
    return BinBatch(
        index=i.astype(np.int64),
        ts_s=ts.astype(np.float64),
        fill=f.astype(np.float64),
        temperature_c=temp.astype(np.float64),
        tilt=t.astype(np.int8),
        valid=v.astype(np.bool_),
    )


def one_by_one(
    state: BinState, rules: BinRules, readings: BinBatch, offset_s: float = 0.0
) -> tuple[list[Change], list[Event]]:
    """The readings applied one batch each, as the daemon would as they arrive."""
    changes: list[Change] = []
    events: list[Event] = []
    for k in range(len(readings.ts_s)):
        part = BinBatch(*(column[k : k + 1] for column in vars(readings).values()))
        more, happened = step_bins(state, rules, part, offset_s)
        changes += more
        events += happened
    return changes, events


def summary(changes: list[Change]) -> list[tuple[str, int, bool, float, float]]:
    return [(c.kind, c.index, c.active, c.since_s, c.at_s) for c in changes]


def filling(start_s: float, fills: Sequence[float], every_s: float = 6 * HOUR) -> BinBatch:
    return batch(0, start_s + every_s * np.arange(len(fills)), list(fills))


def test_a_bin_fills_becomes_full_without_flicker_and_is_emptied_once() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    rising = [round(0.1 + 0.05 * k, 2) for k in range(17)]  # 0.1 ... 0.9
    hovering = [0.89, 0.91, 0.88, 0.9, 0.95]  # around full_on, never down to full_off
    after = [0.05, 0.03, 0.04, 0.05, 0.03, 0.04]  # emptied, then the rest of the dump and noise
    readings = filling(MONDAY, rising + hovering + after)
    changes, events = one_by_one(state, rules, readings)
    full_s = float(readings.ts_s[16])
    emptied_s = float(readings.ts_s[len(rising) + len(hovering)])
    assert summary(changes) == [
        ("bin_full", 0, True, full_s, full_s),
        ("bin_full", 0, False, full_s, emptied_s),
    ]
    assert events == [
        Event(
            "bin_emptied",
            0,
            emptied_s,
            {"fill_before": 0.95, "fill_after": 0.05, "collections": 1.0},
        )
    ]
    assert state.last_emptied_s[0] == emptied_s
    assert state.empty[0] and not state.full[0]
    assert state.cycle_start_s[0] == emptied_s and state.cycle_low[0] == 0.03


def test_noise_around_a_level_is_never_an_emptying() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    noise = np.random.default_rng(7).uniform(-0.01, 0.01, 200)
    _, events = step_bins(state, rules, filling(MONDAY, list(0.5 + noise), every_s=HOUR), 0.0)
    assert events == []  # armed from the first reading, but a 2 % wobble is no 25 % fall


def test_an_emptying_needs_the_fill_to_have_risen_since_the_last_one() -> None:
    """After an emptying caught at 0.35, the fall to 0.05 and 0.04 (the rest of the dump) is
    not a second one; once the fill has risen 0.1 above that low it is armed, and a fall
    counts again."""
    rules = BinRules.uniform(1)
    state = BinState(1)
    fills = [0.1, 0.4, 0.7, 0.35, 0.05, 0.04, 0.12, 0.13, 0.6, 0.2]
    _, events = one_by_one(state, rules, filling(MONDAY, fills))
    assert [e.details["fill_after"] for e in events] == [0.35, 0.2]
    assert state.collections[0] == 2


def test_the_first_emptying_is_seen_before_the_fill_has_risen() -> None:
    """A slow bin first seen at 50 % at midnight and emptied at 06:00: nothing came before
    its first reading to count twice, so its first cycle is armed from the start."""
    rules = BinRules.uniform(1)
    state = BinState(1)
    _, events = one_by_one(state, rules, filling(MONDAY, [0.5, 0.51, 0.5, 0.52, 0.03, 0.04]))
    assert [e.details["fill_after"] for e in events] == [0.03]


def test_fill_rate_and_linear_forecast() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    hours = np.arange(13.0)
    step_bins(state, rules, batch(0, MONDAY + hours * HOUR, list(0.1 + 0.01 * hours)), 0.0)
    assert state.fill_rate_per_day(rules)[0] == pytest.approx(0.24)
    last_s = MONDAY + 12 * HOUR
    expected_s = last_s + (0.9 - 0.22) / 0.24 * DAY
    now_s = last_s + HOUR
    assert state.forecast_full_s(rules, now_s, 0.0)[0] == pytest.approx(expected_s, abs=1.0)


@pytest.mark.parametrize(
    ("hours", "why"),
    [([0.0, 3.0, 6.0], "three readings"), ([0.0, 1.0, 2.0, 3.0], "three hours")],
)
def test_no_rate_and_no_forecast_from_too_little(hours: list[float], why: str) -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    h = np.array(hours)
    step_bins(state, rules, batch(0, MONDAY + h * HOUR, list(0.1 + 0.02 * h)), 0.0)
    assert np.isnan(state.fill_rate_per_day(rules)[0]), why
    assert np.isnan(state.forecast_full_s(rules, MONDAY + DAY, 0.0)[0]), why


def test_no_forecast_beyond_max_forecast_nor_for_a_bin_that_does_not_fill() -> None:
    rules = BinRules.uniform(2)
    state = BinState(2)
    h = np.arange(0.0, 25.0, 6.0)
    slow = 0.1 + 0.02 / 24 * h  # 0.02 a day: full in 40 days
    falling = 0.5 - 0.001 * h
    step_bins(
        state,
        rules,
        batch([0] * 5 + [1] * 5, list(MONDAY + np.r_[h, h] * HOUR), list(np.r_[slow, falling])),
        0.0,
    )
    rate = state.fill_rate_per_day(rules)
    assert rate[0] == pytest.approx(0.02) and rate[1] < 0
    assert np.isnan(state.forecast_full_s(rules, MONDAY + DAY, 0.0)).all()
    wider = BinRules.uniform(2, max_forecast_s=60 * DAY)
    forecast = state.forecast_full_s(wider, MONDAY + DAY, 0.0)
    assert forecast[0] == pytest.approx(MONDAY + DAY + (0.9 - 0.12) / 0.02 * DAY, abs=1.0)
    assert np.isnan(forecast[1])


def test_a_full_bin_is_forecast_full_since_it_became_full() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    step_bins(state, rules, batch(0, [MONDAY, MONDAY + HOUR], [0.5, 0.92]), 0.0)
    assert state.forecast_full_s(rules, MONDAY + DAY, 0.0)[0] == MONDAY + HOUR
    assert state.forecast_full_s(rules, MONDAY, 0.0)[0] == MONDAY  # never later than now


def test_a_weekday_profile_shapes_the_forecast() -> None:
    """0.1 a day Monday to Thursday; with a profile filling at 0.6 of the mean on weekdays and
    2.0 at the weekend, the 0.5 left from Thursday take Thu, Fri (0.06 each), Sat (0.2) and
    0.9 of Sunday, not the 5 days of the straight line."""
    rules = BinRules.uniform(1)
    state = BinState(1)
    step_bins(state, rules, batch(0, MONDAY + DAY * np.arange(4.0), [0.1, 0.2, 0.3, 0.4]), 0.0)
    thursday = MONDAY + 3 * DAY
    assert state.fill_rate_per_day(rules)[0] == pytest.approx(0.1)
    assert not weekday_factors(state, rules)[1][0]  # Thursday to Sunday have no history yet
    assert state.forecast_full_s(rules, thursday, 0.0)[0] == pytest.approx(thursday + 5 * DAY)
    state.weekday_hours[0] = 24.0
    state.weekday_gain[0] = [0.06] * 5 + [0.2] * 2
    factors, used = weekday_factors(state, rules)
    assert used[0] and factors[0] == pytest.approx([0.6] * 5 + [2.0] * 2)
    sunday_late = thursday + 3.9 * DAY
    assert state.forecast_full_s(rules, thursday, 0.0)[0] == pytest.approx(sunday_late, abs=1.0)
    # at UTC+2 Thursday has 22 h left (0.055), Sunday begins at 22:00 UTC and needs 0.185
    local = state.forecast_full_s(rules, thursday, 2 * HOUR)[0]
    assert local == pytest.approx(thursday + (2 * 24 + 22 + 0.925 * 24) * HOUR, abs=1.0)


def test_the_profile_learns_a_busy_weekend_from_the_readings() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    hours = np.arange(7 * 24 + 1.0)
    weekend = hours >= 5 * 24
    per_h = np.where(weekend, 0.004, 0.001)
    fills = 0.05 + np.concatenate([[0.0], np.cumsum(per_h[:-1])])
    step_bins(state, rules, batch(0, MONDAY + hours * HOUR, list(fills)), 0.0)
    factors, used = weekday_factors(state, rules)
    assert used[0]
    assert factors[0, 5] / factors[0, 0] == pytest.approx(4.0)
    assert state.weekday_hours[0] == pytest.approx([24.0] * 7)


def life_with_an_emptying(state: BinState, rules: BinRules, index: int) -> float:
    """Fill bin `index` to 0.6 and empty it on Monday; when it was emptied."""
    ts = MONDAY + HOUR * np.arange(4.0)
    step_bins(state, rules, batch(index, ts, [0.2, 0.4, 0.6, 0.05]), 0.0)
    return float(ts[3])


def test_collection_late_once_since_the_threshold_and_ended_by_an_emptying() -> None:
    rules = BinRules.uniform(2)
    state = BinState(2)
    emptied_s = life_with_an_emptying(state, rules, 0)
    step_bins(state, rules, batch(1, MONDAY, 0.3), 0.0)  # bin 1: never seen emptied
    late_s = emptied_s + 7 * DAY
    assert evaluate_bins(state, rules, late_s - 1.0, 0.0) == []
    raised = evaluate_bins(state, rules, late_s + 3 * HOUR, 0.0)
    assert summary(raised) == [("collection_late", 0, True, late_s, late_s)]
    assert raised[0].details["days_since_emptied"] == 7.0
    assert evaluate_bins(state, rules, late_s + 5 * HOUR, 0.0) == []
    assert evaluate_bins(state, rules, late_s + 30 * DAY, 0.0) == []  # nor for bin 1, ever
    ts = late_s + 6 * HOUR + HOUR * np.arange(3.0)
    changes, events = step_bins(state, rules, batch(0, ts, [0.5, 0.7, 0.1]), 0.0)
    assert summary(changes) == [("collection_late", 0, False, late_s, float(ts[2]))]
    assert len(events) == 1


def test_a_missed_pickup_is_raised_once_from_the_day_end_and_ended_by_an_emptying() -> None:
    """Collection on Wednesdays, local time UTC+1: the day ends at 23:00 UTC."""
    offset_s = HOUR
    days = np.zeros((4, 7), dtype=np.bool_)
    days[:3, 2] = True  # bin 3 has no collection day
    rules = replace(BinRules.uniform(4), collection_days=days)
    state = BinState(4)
    step_bins(state, rules, batch([0, 1, 2, 3], MONDAY, [0.3, 0.3, 0.4, 0.3]), offset_s)
    wednesday_s = MONDAY + 2 * DAY - offset_s
    thursday_s = wednesday_s + DAY
    ts = wednesday_s + 10 * HOUR + HOUR * np.arange(3.0)
    step_bins(state, rules, batch(2, ts, [0.5, 0.7, 0.1]), offset_s)  # bin 2 is emptied
    later = [0, 2, 3]  # bin 1 says nothing after Wednesday: its silence could be a gap
    step_bins(state, rules, batch(later, thursday_s + 8 * HOUR, 0.35), offset_s)
    assert evaluate_bins(state, rules, thursday_s - 1.0, offset_s) == []
    raised = evaluate_bins(state, rules, thursday_s + 9 * HOUR, offset_s)
    assert summary(raised) == [("missed_pickup", 0, True, thursday_s, thursday_s)]
    assert raised[0].details == {"fill": 0.35, "weekday": 2.0}
    assert evaluate_bins(state, rules, thursday_s + 10 * HOUR, offset_s) == []
    assert evaluate_bins(state, rules, thursday_s + 3 * DAY, offset_s) == []  # the same day
    ts = thursday_s + 12 * HOUR + HOUR * np.arange(2.0)
    changes, _ = step_bins(state, rules, batch(0, ts, [0.7, 0.1]), offset_s)
    assert summary(changes) == [("missed_pickup", 0, False, thursday_s, float(ts[1]))]
    next_thursday_s = thursday_s + 7 * DAY
    step_bins(state, rules, batch([0, 1], next_thursday_s + HOUR, 0.3), offset_s)
    raised = evaluate_bins(state, rules, next_thursday_s + 2 * HOUR, offset_s)
    late_s = wednesday_s + 12 * HOUR + 7 * DAY  # bin 2, emptied a week ago: a week is late
    assert summary(raised) == [
        ("collection_late", 2, True, late_s, late_s),
        ("missed_pickup", 0, True, next_thursday_s, next_thursday_s),
        ("missed_pickup", 1, True, next_thursday_s, next_thursday_s),
    ]


def test_a_bin_too_empty_to_show_an_emptying_is_never_said_missed() -> None:
    """At 10 % a truck's visit makes no fall the rule can see: missed or not, nobody knows,
    so no missed_pickup (a false one sends a truck for nothing); at 35 % it is raised."""
    days = np.zeros((2, 7), dtype=np.bool_)
    days[:, 2] = True  # Wednesdays
    rules = replace(BinRules.uniform(2), collection_days=days)
    state = BinState(2)
    step_bins(state, rules, batch([0, 1], MONDAY, [0.08, 0.3]), 0.0)
    step_bins(state, rules, batch([0, 1], MONDAY + 3 * DAY + HOUR, [0.1, 0.35]), 0.0)
    raised = evaluate_bins(state, rules, MONDAY + 3 * DAY + 2 * HOUR, 0.0)
    assert [(c.kind, c.index) for c in raised] == [("missed_pickup", 1)]


def test_fire_by_threshold_and_by_a_fast_rise() -> None:
    rules = BinRules.uniform(2)
    state = BinState(2)
    ts = MONDAY + HOUR * np.arange(4.0)
    hot = batch(0, ts, temperature_c=[20.0, 61.0, 59.0, 30.0], valid=False)  # a lid open
    rising = batch(1, ts, temperature_c=[20.0, 26.0, 27.0, 28.0])
    changes = one_by_one(state, rules, hot)[0] + one_by_one(state, rules, rising)[0]
    t1, t2 = float(ts[1]), float(ts[2])
    assert sorted(summary(changes)) == [
        ("bin_fire", 0, False, t1, t2),
        ("bin_fire", 0, True, t1, t1),
        ("bin_fire", 1, False, t1, t2),
        ("bin_fire", 1, True, t1, t1),
    ]
    assert changes[0].details == {"temperature_c": 61.0, "rise_c": 41.0}


def test_tilt_starts_at_one_ends_at_zero_and_not_reported_changes_nothing() -> None:
    rules = BinRules.uniform(1)
    state = BinState(1)
    ts = MONDAY + HOUR * np.arange(5.0)
    changes, _ = one_by_one(state, rules, batch(0, ts, tilt=[0, 1, -1, 1, 0]))
    assert summary(changes) == [
        ("bin_tilt", 0, True, float(ts[1]), float(ts[1])),
        ("bin_tilt", 0, False, float(ts[1]), float(ts[4])),
    ]


def test_invalid_readings_are_left_out_of_the_rate_and_the_emptying() -> None:
    rules = BinRules.uniform(2)
    hours = np.arange(13.0)
    fills = 0.3 + 0.01 * hours
    clean, noisy = BinState(2), BinState(2)
    step_bins(clean, rules, batch(0, MONDAY + hours * HOUR, list(fills)), 0.0)
    lid_open = batch(0, MONDAY + (hours[:-1] + 0.5) * HOUR, 0.0, valid=False)
    unknown = batch(0, MONDAY + (hours[:-1] + 0.7) * HOUR, np.nan)
    for readings in (batch(0, MONDAY + hours * HOUR, list(fills)), lid_open, unknown):
        assert step_bins(noisy, rules, readings, 0.0)[1] == []
    assert noisy.fill_rate_per_day(rules)[0] == clean.fill_rate_per_day(rules)[0]
    assert noisy.collections[0] == 0 and noisy.fill[0] == fills[-1]


def test_a_batch_applied_twice_changes_nothing_the_second_time() -> None:
    rules = BinRules.uniform(3)
    state = BinState(3)
    ts = MONDAY + HOUR * np.arange(6.0)
    fills = [0.5, 0.95, 0.1, 0.7, 0.2, 0.3]
    readings = batch([0, 1, 2, 0, 1, 2], ts, fills, temperature_c=[20, 70, 20, 20, 70, 20], tilt=1)
    first = step_bins(state, rules, readings, 0.0)
    assert first[0]
    packed = state.pack(np.arange(3))
    assert step_bins(state, rules, readings, 0.0) == ([], [])
    np.testing.assert_array_equal(state.pack(np.arange(3)), packed)


def test_readings_of_one_bin_in_one_batch_are_applied_in_time_order() -> None:
    rules = BinRules.uniform(2)
    ts = MONDAY + HOUR * np.arange(6.0)
    fills = [0.2, 0.5, 0.92, 0.95, 0.3, 0.1]
    together, apart = BinState(2), BinState(2)
    shuffled = [3, 0, 5, 1, 4, 2]
    mixed = batch([1, *([0] * 6)], [MONDAY, *ts[shuffled]], [0.4, *np.array(fills)[shuffled]])
    at_once = step_bins(together, rules, mixed, 0.0)
    one_at_a_time = one_by_one(apart, rules, batch([1, *([0] * 6)], [MONDAY, *ts], [0.4, *fills]))
    assert at_once == one_at_a_time
    np.testing.assert_array_equal(together.pack(np.arange(2)), apart.pack(np.arange(2)))


def test_a_state_restored_from_pack_gives_the_same_next_changes() -> None:
    days = np.zeros((3, 7), dtype=np.bool_)
    days[:, 2] = True
    rules = replace(BinRules.uniform(3), collection_days=days)
    state = BinState(3)
    hours = np.arange(0.0, 7 * 24, 5.0)
    ramp = list(0.05 + 0.8 * (hours % 60) / 60)  # emptied every 60 h
    for index in range(3):
        step_bins(
            state,
            rules,
            batch(index, MONDAY + hours * HOUR, ramp, temperature_c=20.0 + index, tilt=index % 2),
            0.0,
        )
    evaluate_bins(state, rules, MONDAY + 7 * DAY, 0.0)
    packed = state.pack(np.arange(3))
    assert packed.shape == (3, BinState.WIDTH) and packed.dtype == np.float64
    restored = BinState(3)
    restored.unpack(np.array([2, 0, 1]), packed[[2, 0, 1]])
    np.testing.assert_array_equal(restored.pack(np.arange(3)), packed)
    now_s = MONDAY + 9 * DAY
    assert evaluate_bins(restored, rules, now_s, 0.0) == evaluate_bins(state, rules, now_s, 0.0)
    later = batch(
        [0, 1, 2], now_s, [0.95, 0.1, 0.5], temperature_c=[70.0, 20.0, 30.0], tilt=[1, 0, -1]
    )
    assert step_bins(restored, rules, later, 0.0) == step_bins(state, rules, later, 0.0)
    np.testing.assert_array_equal(
        restored.forecast_full_s(rules, now_s, 0.0), state.forecast_full_s(rules, now_s, 0.0)
    )


def test_a_packed_row_holds_every_array_of_the_state() -> None:
    arrays = [a for a in vars(BinState(2)).values() if isinstance(a, np.ndarray)]
    assert sum(a[0].size for a in arrays) == BinState.WIDTH


def test_unpack_refuses_rows_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="rows must be"):
        BinState(2).unpack(np.arange(2), np.zeros((2, BinState.WIDTH - 1)))


def test_a_reading_of_a_bin_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="bin index"):
        step_bins(BinState(2), BinRules.uniform(2), batch(2, MONDAY, 0.5), 0.0)


def test_the_thresholds_themselves() -> None:
    """Full at exactly full_on, no longer at exactly full_off; a fire at exactly 60 °C, not
    at a rise of exactly fire_rise_c."""
    rules = BinRules.uniform(2)
    state = BinState(2)
    ts = MONDAY + HOUR * np.arange(4.0)
    full = batch(0, ts, [0.85, 0.9, 0.81, 0.8])
    fire = batch(1, ts, 0.3, temperature_c=[20.0, 25.0, 60.0, 59.0])
    changes = one_by_one(state, rules, full)[0] + one_by_one(state, rules, fire)[0]
    t1, t2, t3 = (float(t) for t in ts[1:])
    assert summary(changes) == [
        ("bin_full", 0, True, t1, t1),
        ("bin_full", 0, False, t1, t3),
        ("bin_fire", 1, True, t2, t2),
        ("bin_fire", 1, False, t2, t3),
    ]
