"""The water rules on scenarios a person can check by hand: a household, a leak, a gap, a
burst, backflow, a stopped meter, the night flow, a high week, a replay, a restart."""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np
import pytest

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

HOUR = 3600.0
DAY = 86400.0
T0 = 19676 * DAY  # a UTC midnight (2023-11-15)
Row = tuple[int, float, float, float, int]  # meter, ts, volume, flow, flags
Rate = Callable[[float], float]  # m³/h at a time


def batch(rows: Iterable[Row]) -> WaterBatch:
    rows = list(rows)
    return WaterBatch(
        index=np.array([r[0] for r in rows], dtype=np.int64),
        ts_s=np.array([r[1] for r in rows], dtype=np.float64),
        volume_m3=np.array([r[2] for r in rows], dtype=np.float64),
        flow_m3h=np.array([r[3] for r in rows], dtype=np.float64),
        flags=np.array([r[4] for r in rows], dtype=np.int64),
    )


def reading(meter: int, ts: float, volume: float, flow: float = np.nan, flags: int = 0) -> Row:
    return (meter, ts, volume, flow, flags)


def metered(meter: int, start_s: float, end_s: float, every_s: float, rate: Rate) -> list[Row]:
    """Readings every `every_s` from start_s (a baseline) to before end_s; each interval's
    volume at the rate of its start (rates change on the reading grid)."""
    times = np.arange(start_s, end_s, every_s).tolist()
    rows = [reading(meter, times[0], np.nan)]
    rows += [reading(meter, t, rate(t - every_s) * every_s / HOUR) for t in times[1:]]
    return rows


def household(t: float) -> float:
    """Water morning and evening, none at night (local = UTC here)."""
    hour = (t % DAY) / HOUR
    if 6 <= hour < 8:
        return 0.1
    return 0.08 if 18 <= hour < 21 else 0.0


def run(
    state: WaterState, rules: WaterRules, rows: list[Row], offset_s: float = 0.0
) -> tuple[list[Change], list[Event]]:
    """Feed the rows a day at a time, as the daemon would."""
    changes: list[Change] = []
    events: list[Event] = []
    rows = sorted(rows, key=lambda r: r[1])
    days = np.floor(np.array([r[1] for r in rows]) / DAY)
    for day in np.unique(days).tolist():
        take = batch(r for r, d in zip(rows, days, strict=True) if d == day)
        more, happened = step_water(state, rules, take, offset_s)
        changes += more
        events += happened
    return changes, events


def kinds(changes: list[Change], kind: str) -> list[Change]:
    return [c for c in changes if c.kind == kind]


def test_a_household_never_leaks_over_a_month() -> None:
    rules = WaterRules.uniform(1)
    state = WaterState(1)
    changes, events = run(state, rules, metered(0, T0, T0 + 30 * DAY, 900, household))
    assert changes == []
    nights = [e for e in events if e.kind == "night_flow"]
    assert len(nights) == 30
    assert all(e.details["m3h"] == pytest.approx(0.0, abs=1e-12) for e in nights)
    last_day = state.hourly_m3(24)[0]  # 23:00 the day before to 23:00: 23:45 is the last reading
    np.testing.assert_allclose(last_day[7:9], [0.1, 0.1])  # 06:00-08:00


def leaking(start_s: float, end_s: float) -> Rate:
    return lambda t: household(t) + (0.015 if start_s <= t < end_s else 0.0)


def test_a_15_litre_leak_is_raised_within_a_day_and_ends_after_a_dry_hour() -> None:
    """Meter 0 leaks from 01:30 of day 1 to midnight of day 3; meter 1 has the same water
    but runs a fountain (continuous flow expected): never raised."""
    start, stop = T0 + DAY + 1.5 * HOUR, T0 + 3 * DAY
    rules = WaterRules.uniform(2)
    rules.continuous_flow_expected[1] = True  # per meter: the fountain's
    state = WaterState(2)
    rows = [r for m in (0, 1) for r in metered(m, T0, T0 + 4 * DAY, 900, leaking(start, stop))]
    changes, _ = run(state, rules, rows)
    raised, ended = kinds(changes, "water_leak")
    assert raised.index == ended.index == 0
    assert raised.active and 24 * HOUR <= raised.at_s - start <= 25 * HOUR
    assert raised.since_s == T0 + DAY + 2 * HOUR  # 01:00-02:00 held only 7.5 L: dry
    assert raised.details["rate_m3h"] == pytest.approx(0.015)
    assert raised.details["volume_m3"] == pytest.approx(0.015 * 24)
    assert not ended.active and ended.since_s == raised.since_s
    assert ended.at_s == stop + HOUR  # 00:00-01:00 of day 3 was dry
    assert ended.details["volume_m3"] == pytest.approx(0.015 * 46)  # 02:00 day 1 to midnight


def test_the_volume_lost_grows_with_the_leak() -> None:
    start = T0 + DAY + 1.5 * HOUR
    rules, state = WaterRules.uniform(1), WaterState(1)
    run(state, rules, metered(0, T0, T0 + 2 * DAY + 12 * HOUR, 900, leaking(start, np.inf)))
    since = T0 + DAY + 2 * HOUR
    assert state.leak_volume_m3(since + 30 * HOUR)[0] == pytest.approx(0.015 * 30)
    assert state.leak_volume_m3(since + 40 * HOUR)[0] == pytest.approx(0.015 * 40)


def test_a_ten_hour_gap_neither_raises_nor_clears_a_leak() -> None:
    start = T0 + DAY + 1.5 * HOUR
    rules, state = WaterRules.uniform(1), WaterState(1)
    water = leaking(start, np.inf)
    changes, _ = run(state, rules, metered(0, T0, T0 + 2 * DAY + 12 * HOUR, 900, water))
    assert [c.active for c in changes] == [True]
    silence = T0 + 2 * DAY + 12 * HOUR
    after = [reading(0, silence + 10 * HOUR, water(silence) * 10)]  # 10 h in one reading
    changes, _ = step_water(state, rules, batch(after), 0.0)
    assert changes == []
    assert np.isnan(state.hourly_m3(10)[0]).all()
    assert state.leak_active[0]


def test_a_gap_does_not_raise_a_leak_that_its_unknown_hours_would_make() -> None:
    """14 flowing hours, 10 unknown, then flowing: a day without a dry hour, but only 14 of
    its hours known; raised only once 20 of the window's hours are known, since the run's
    start that the ring still shows."""
    start = T0 + DAY + 2 * HOUR
    rules, state = WaterRules.uniform(1), WaterState(1)
    water = leaking(start, np.inf)
    before = metered(0, T0, T0 + DAY + 16 * HOUR + 1, 900, water)
    gap_end = T0 + 2 * DAY + 2 * HOUR
    after = metered(0, gap_end, T0 + 3 * DAY, 900, water)[1:]
    changes, _ = run(state, rules, [*before, reading(0, gap_end, 0.015 * 10), *after])
    (raised,) = kinds(changes, "water_leak")
    assert raised.at_s == T0 + DAY + 22 * HOUR + DAY  # the window's known hours reach 20
    assert raised.since_s == start


def test_hours_are_interpolated_across_a_90_minute_gap_and_unknown_across_3_hours() -> None:
    rules, state = WaterRules.uniform(2), WaterState(2)
    rows = [reading(0, T0 + 10 * HOUR, np.nan), reading(0, T0 + 11.5 * HOUR, 0.09)]
    rows += [reading(0, T0 + 12 * HOUR, 0.01)]
    rows += [reading(1, T0 + 10 * HOUR, np.nan), reading(1, T0 + 13.5 * HOUR, 0.2)]
    rows += [reading(1, T0 + 14 * HOUR, 0.01), reading(1, T0 + 15 * HOUR, 0.02)]
    step_water(state, rules, batch(rows), 0.0)
    np.testing.assert_allclose(state.hourly_m3(2)[0], [0.06, 0.04])
    # meter 1: 10-13 silent too long, 13-14 starts unknown, 14-15 known again
    np.testing.assert_allclose(state.hourly_m3(5)[1], [np.nan] * 4 + [0.02])


def test_a_new_baseline_makes_its_hours_unknown() -> None:
    rules, state = WaterRules.uniform(1), WaterState(1)
    rows = [reading(0, T0 + t * HOUR, np.nan if t in (0, 2.5) else 0.01) for t in (0, 1, 2, 2.5, 4)]
    step_water(state, rules, batch(rows), 0.0)
    # 00:00 is a baseline on its hour's boundary: that hour is known; 02:30 is not, so
    # 02:00-03:00 is unknown, but 03:00-04:00 lies between two readings again
    np.testing.assert_allclose(state.hourly_m3(4)[0], [0.01, 0.01, np.nan, 0.01 / 1.5])


def bursting(minutes: float) -> Rate:
    start = T0 + 12 * HOUR
    return lambda t: 1.0 if start <= t < start + minutes * 60 else 0.0


def test_a_burst_of_40_minutes_is_raised_and_one_of_20_is_not() -> None:
    rules, state = WaterRules.uniform(2), WaterState(2)
    rows = metered(0, T0 + 11 * HOUR, T0 + 14 * HOUR, 300, bursting(40))
    rows += metered(1, T0 + 11 * HOUR, T0 + 14 * HOUR, 300, bursting(20))
    changes, _ = run(state, rules, rows)
    raised, ended = kinds(changes, "water_burst")
    first_above = T0 + 12 * HOUR + 300  # the reading closing the first 5 min of it
    assert (raised.index, raised.active, raised.since_s) == (0, True, first_above)
    assert raised.at_s == first_above + 1800
    assert raised.details["flow_m3h"] == pytest.approx(1.0)
    assert (ended.index, ended.active, ended.since_s) == (0, False, first_above)
    assert ended.at_s == T0 + 12 * HOUR + 45 * 60


def test_a_reported_flow_counts_over_the_volume() -> None:
    rules, state = WaterRules.uniform(1), WaterState(1)
    rows = [reading(0, T0 + t * 600, 0.0, flow=2.0) for t in range(5)]
    changes, _ = step_water(state, rules, batch(rows), 0.0)
    assert [(c.kind, c.since_s, c.at_s) for c in changes] == [("water_burst", T0, T0 + 1800)]


def test_backflow_from_a_negative_volume_and_from_the_flag() -> None:
    rules, state = WaterRules.uniform(2), WaterState(2)
    bit = 1 << FLAGS.index("backflow")
    rows = [reading(0, T0 + t * HOUR, v) for t, v in ((0, np.nan), (1, 0.1), (2, -0.01))]
    rows += [reading(0, T0 + 3 * HOUR, -0.005), reading(0, T0 + 4 * HOUR, 0.02)]
    rows += [reading(1, T0 + t * HOUR, 0.0, flags=f) for t, f in ((0, 0), (1, bit), (2, bit))]
    rows += [reading(1, T0 + 3 * HOUR, 0.0, flags=0)]
    changes, events = step_water(state, rules, batch(rows), 0.0)
    back = kinds(changes, "water_backflow")
    assert [(c.index, c.active, c.since_s, c.at_s) for c in back] == [
        (1, True, T0 + HOUR, T0 + HOUR),
        (0, True, T0 + 2 * HOUR, T0 + 2 * HOUR),
        (1, False, T0 + HOUR, T0 + 3 * HOUR),
        (0, False, T0 + 2 * HOUR, T0 + 4 * HOUR),
    ]
    assert back[1].details["volume_m3"] == pytest.approx(0.01)
    assert back[3].details["volume_m3"] == pytest.approx(0.015)  # all that ran back
    assert [(e.kind, e.index, e.at_s, e.details) for e in events] == [
        ("meter_flag", 1, T0 + HOUR, {"flag": float(FLAGS.index("backflow"))})
    ]


def test_a_stopped_meter_is_raised_at_28_days_and_ends_at_progress() -> None:
    """Meter 0 reports daily without progress; meter 1 too but went silent on day 20."""
    rules, state = WaterRules.uniform(2), WaterState(2)
    first = T0 + 8 * HOUR
    raised: list[Change] = []
    for day in range(31):
        rows = [reading(0, first + day * DAY, np.nan if day == 0 else 0.0)]
        rows += [reading(1, first + day * DAY, np.nan if day == 0 else 0.0)] if day < 20 else []
        step_water(state, rules, batch(rows), 0.0)
        raised += evaluate_water(state, rules, first + day * DAY + 2 * HOUR, 0.0)
    assert [(c.kind, c.index, c.active) for c in raised] == [("meter_stopped", 0, True)]
    assert raised[0].since_s == raised[0].at_s == first + 28 * DAY
    assert evaluate_water(state, rules, first + 31 * DAY, 0.0) == []  # raised once
    changes, _ = step_water(state, rules, batch([reading(0, first + 31 * DAY, 0.01)]), 0.0)
    assert [(c.kind, c.active, c.since_s, c.at_s) for c in changes] == [
        ("meter_stopped", False, first + 28 * DAY, first + 31 * DAY)
    ]


def test_the_night_flow_is_the_driest_night_hour_in_local_time() -> None:
    """UTC+1: the night 02:00-05:00 local is 01:00-04:00 UTC."""
    night = {1: 0.02, 2: 0.01, 3: 0.03}
    rules, state = WaterRules.uniform(1), WaterState(1)
    rows = metered(0, T0, T0 + DAY, 900, lambda t: night.get(int((t % DAY) // HOUR), 0.05))
    _, events = run(state, rules, rows, offset_s=HOUR)
    (flow,) = [e for e in events if e.kind == "night_flow"]
    assert flow.at_s == T0 + 4 * HOUR
    assert flow.details["m3h"] == pytest.approx(0.01)
    assert state.night_flow_m3h()[0] == pytest.approx(0.01)


def daily(volumes_m3: list[float]) -> Rate:
    return lambda t: volumes_m3[int((t - T0) // DAY)] / 24


def test_high_consumption_against_one_past_period() -> None:
    rules = WaterRules.uniform(1, consumption_period_s=DAY)
    state = WaterState(1)
    rows = metered(0, T0, T0 + 3 * DAY + HOUR, 900, daily([0.5, 1.5, 0.6, 0.6]))
    changes, _ = run(state, rules, rows)
    raised, ended = kinds(changes, "high_consumption")
    assert (raised.active, raised.since_s, raised.at_s) == (True, T0 + DAY, T0 + 2 * DAY)
    assert raised.details == pytest.approx(
        {"period_m3": 1.5, "usual_m3": 0.5, "history_periods": 1.0}
    )
    assert (ended.active, ended.since_s, ended.at_s) == (False, T0 + DAY, T0 + 3 * DAY)


def test_high_consumption_against_a_full_history() -> None:
    """Six past days with a history of four: the usual stays the usual volume (the decayed
    running mean of equal periods is that period), and says it rests on four."""
    rules = WaterRules.uniform(1, consumption_period_s=DAY, history_periods=4)
    state = WaterState(1)
    rows = metered(0, T0, T0 + 7 * DAY + HOUR, 900, daily([0.5] * 6 + [1.2, 0.5]))
    (raised,) = kinds(run(state, rules, rows)[0], "high_consumption")
    assert raised.since_s == T0 + 6 * DAY
    assert raised.details == pytest.approx(
        {"period_m3": 1.2, "usual_m3": 0.5, "history_periods": 4.0}
    )


def test_a_partial_first_week_is_not_judged() -> None:
    """A meter installed on the fourth day of a week: that week is mostly unknown, and does
    not make the first full one look high."""
    rules, state = WaterRules.uniform(1), WaterState(1)  # calendar weeks, Monday midnight
    week_start = np.ceil((T0 - 4 * DAY) / (7 * DAY)) * 7 * DAY + 4 * DAY
    assert datetime.fromtimestamp(week_start, UTC).weekday() == 0  # a Monday
    rows = metered(0, week_start - 3 * DAY, week_start + 7 * DAY + HOUR, 3600, lambda t: 0.01)
    changes, _ = run(state, rules, rows)
    assert changes == []
    assert state.past_count[0] == 1  # the full week only


def test_a_replayed_batch_changes_nothing() -> None:
    start = T0 + DAY + 1.5 * HOUR
    rules, state = WaterRules.uniform(1), WaterState(1)
    rows = metered(0, T0, T0 + 2 * DAY + 6 * HOUR, 900, leaking(start, np.inf))
    run(state, rules, rows[:-96])
    last_day = batch(rows[-96:])
    changes, _ = step_water(state, rules, last_day, 0.0)
    assert [c.kind for c in changes] == ["water_leak"]
    packed = state.pack(np.arange(1))
    assert step_water(state, rules, last_day, 0.0) == ([], [])
    np.testing.assert_array_equal(state.pack(np.arange(1)), packed)


def test_a_restart_from_packed_rows_gives_the_same_next_changes() -> None:
    start = T0 + DAY + 1.5 * HOUR
    rules = WaterRules.uniform(3, consumption_period_s=DAY)
    rows = [r for m in range(3) for r in metered(m, T0, T0 + 3 * DAY, 900, leaking(start, np.inf))]
    rows = sorted(rows, key=lambda r: r[1])
    cut = next(i for i, r in enumerate(rows) if r[1] >= T0 + 2 * DAY)
    state = WaterState(3)
    run(state, rules, rows[:cut])
    meters = np.arange(3)
    restarted = WaterState(3)
    restarted.unpack(meters, state.pack(meters))
    np.testing.assert_array_equal(restarted.pack(meters), state.pack(meters))
    assert state.pack(meters).shape == (3, WaterState.WIDTH)
    tail = batch(rows[cut:])
    expected = step_water(state, rules, tail, 0.0)
    assert expected[0]  # the leak and the high day come after the cut
    assert step_water(restarted, rules, tail, 0.0) == expected
    np.testing.assert_array_equal(restarted.pack(meters), state.pack(meters))


def test_the_reference_agrees_on_a_week_of_a_leaking_household() -> None:
    start = T0 + 3 * DAY + 1.5 * HOUR
    rules = WaterRules.uniform(1, consumption_period_s=DAY)
    state, reference = WaterState(1), ReferenceWater(rules)
    rows = metered(0, T0, T0 + 8 * DAY, 900, leaking(start, T0 + 6 * DAY))
    for day in range(8):
        take = batch(r for r in rows if T0 + day * DAY <= r[1] < T0 + (day + 1) * DAY)
        assert step_water(state, rules, take, 0.0) == reference.step(take, 0.0)


def test_the_rules_refuse_a_ring_too_short_for_the_window() -> None:
    with pytest.raises(ValueError, match="ring"):
        step_water(WaterState(1, hours=12), WaterRules.uniform(1), batch([]), 0.0)


def test_a_weekly_period_is_a_calendar_week_from_monday() -> None:
    """A week of twice the usual use is raised from its Monday's midnight to the next."""
    rules, state = WaterRules.uniform(1), WaterState(1)
    monday = np.ceil((T0 - 4 * DAY) / (7 * DAY)) * 7 * DAY + 4 * DAY
    usage = lambda t: 0.05 if t >= monday + 14 * DAY else 0.02  # noqa: E731
    rows = metered(0, monday, monday + 21 * DAY + HOUR, 3600, usage)
    changes, _ = run(state, rules, rows)
    (raised,) = [c for c in changes if c.kind == "high_consumption"]
    assert datetime.fromtimestamp(raised.since_s, UTC).weekday() == 0
    assert (raised.since_s, raised.at_s) == (monday + 14 * DAY, monday + 21 * DAY)
