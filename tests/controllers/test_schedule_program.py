"""The policy's schedule in time: fixed-time steps, calendar exceptions and their precedence."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.schedule import AstronomicalClock, Program
from controllers.settings.schedule import Schedule

PARIS = ZoneInfo("Europe/Paris")
ANGERS = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")
FRIDAY = date(2026, 11, 13)


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).timestamp()


def program(**schedule: Any) -> Program:
    return Program(ANGERS, Schedule.model_validate(schedule))


def test_steps_follow_each_other_through_the_night() -> None:
    """The night level until the first step, then each step's level until the next one."""
    night = program(
        night_level=0.3, steps=[{"at": "01:00", "level": "50%"}, {"at": "22:00", "level": 0.4}]
    )
    assert night.state(at(FRIDAY, 19)).level == 0.3
    assert night.state(at(FRIDAY, 22, 30)).level == 0.4
    after_one = night.state(at(FRIDAY + timedelta(days=1), 1, 30))
    assert (after_one.lit, after_one.level, after_one.source) == (True, 0.5, "step 01:00")
    assert not night.state(at(FRIDAY, 12)).lit


def test_an_off_step_switches_the_street_off_until_the_next_step() -> None:
    """Part-night lighting: `off` from 01:00, back on at 05:30 until sunrise."""
    night = program(steps=[{"at": "01:00", "level": "off"}, {"at": "05:30", "level": "P4"}])
    saturday = FRIDAY + timedelta(days=1)
    assert night.state(at(FRIDAY, 23)).lit
    assert not night.state(at(saturday, 3)).lit
    assert night.state(at(saturday, 6)).level == "P4"


def test_a_dated_exception_applies_to_the_night_that_starts_on_its_date() -> None:
    """A festival on the 21st changes 23:00 on the 21st and 01:00 on the 22nd, not 01:00 on
    the 21st."""
    festival = {"name": "fete", "dates": ["2026-06-21"], "night_level": 1.0, "steps": []}
    night = program(night_level=0.3, steps=[{"at": "01:00", "level": 0.2}], exceptions=[festival])
    assert night.state(at(date(2026, 6, 21), 1)).level == 0.2
    assert night.state(at(date(2026, 6, 21), 23, 30)).level == 1.0
    small_hours = night.state(at(date(2026, 6, 22), 1, 30))
    assert (small_hours.level, small_hours.source) == (1.0, "night_level (fete)")
    assert night.state(at(date(2026, 6, 22), 23, 30)).level == 0.3


def test_precedence_dates_then_ranges_then_weekdays() -> None:
    """On a night matched by all three kinds the dated one wins, whatever the file order."""
    rules = [
        {"name": "date", "dates": [FRIDAY], "night_level": 0.9},
        {"name": "range", "start": FRIDAY - timedelta(days=3), "end": FRIDAY, "night_level": 0.6},
        {"name": "fridays", "weekdays": ["fri"], "night_level": 0.5},
    ]
    night = program(night_level=0.3, exceptions=rules)
    assert night.state(at(FRIDAY, 23)).level == 0.9
    assert night.state(at(FRIDAY - timedelta(days=1), 23)).level == 0.6
    assert night.state(at(FRIDAY + timedelta(days=7), 23)).level == 0.5
    assert night.state(at(FRIDAY + timedelta(days=1), 23)).level == 0.3


def test_later_rule_of_the_same_kind_wins_and_only_replaces_what_it_sets() -> None:
    """Two weekday rules: the later's level wins; the earlier's steps stay since it sets none."""
    rules = [
        {
            "name": "a",
            "weekdays": ["fri"],
            "night_level": 0.5,
            "steps": [{"at": "02:00", "level": 0.1}],
        },
        {"name": "b", "weekdays": ["fri", "sat"], "night_level": 0.7},
    ]
    night = program(night_level=0.3, exceptions=rules)
    assert night.state(at(FRIDAY, 23)).level == 0.7
    late = night.state(at(FRIDAY + timedelta(days=1), 2, 30))
    assert (late.level, late.source) == (0.1, "step 02:00 (a, b)")


def test_an_exception_may_move_the_switch_on_time() -> None:
    """A dated night with a sunset offset of -1 h is lit an hour before the usual time."""
    _, sunset = ANGERS.sun_times(FRIDAY)
    assert sunset is not None
    early = {"name": "early", "dates": [FRIDAY], "sunset_offset_s": "-1h"}
    night = program(exceptions=[early])
    assert night.state(sunset - 1800).lit
    assert not program().state(sunset - 1800).lit
    assert not night.state(sunset - 1800 + 7 * 86400).lit


@pytest.mark.parametrize(
    ("day", "expected_utc_hour"),
    [(date(2026, 3, 28), 1), (date(2026, 10, 24), 0)],
)
def test_wall_clock_steps_on_dst_nights(day: date, expected_utc_hour: int) -> None:
    """02:30 on the spring night does not exist and happens at 03:30 CEST (01:30 UTC); on the
    autumn night it happens twice and counts the first time (00:30 UTC)."""
    night = program(night_level=0.3, steps=[{"at": "02:30", "level": 0.6}])
    next_day = day + timedelta(days=1)
    utc = datetime(
        next_day.year, next_day.month, next_day.day, expected_utc_hour, 30, tzinfo=ZoneInfo("UTC")
    )
    assert night.state(utc.timestamp() - 1).level == 0.3
    assert night.state(utc.timestamp()).level == 0.6


def test_polar_night_uses_the_schedule_without_sun_times() -> None:
    """In Tromsø's polar night it is lit at noon, and the steps still apply by the clock."""
    tromso = AstronomicalClock(69.65, 18.96, "Europe/Oslo")
    night = Program(tromso, Schedule.model_validate({"steps": [{"at": "13:00", "level": 0.8}]}))
    noon = datetime(2026, 12, 21, 12, 0, tzinfo=ZoneInfo("Europe/Oslo")).timestamp()
    assert night.state(noon).lit
    assert night.state(noon).level == 0.3
    assert night.state(noon + 3600).level == 0.8


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "x", "night_level": 1.0}, "exactly one of dates"),
        ({"name": "x", "dates": ["2026-06-21"], "weekdays": ["fri"]}, "exactly one of dates"),
        ({"name": "x", "start": "2026-06-21"}, "needs both start and end"),
        ({"name": "x", "start": "2026-06-21", "end": "2026-06-01"}, "is after end"),
        (
            {"name": "x", "weekdays": ["fri"], "steps": [{"at": "01:00", "level": 0.2}] * 2},
            "two steps at 01:00",
        ),
    ],
)
def test_ambiguous_exceptions_are_refused(rule: dict[str, Any], message: str) -> None:
    """An exception says when it applies in exactly one way."""
    with pytest.raises(ValueError, match=message):
        Schedule.model_validate({"exceptions": [rule]})


@given(st.floats(min_value=at(FRIDAY, 0), max_value=at(FRIDAY, 0) + 30 * 86400))
def test_lit_matches_the_astronomical_clock_without_steps(now_s: float) -> None:
    """Without steps or exceptions the program is lit exactly when the clock says so."""
    night = program(sunset_offset_s="10m", sunrise_offset_s="-10m")
    assert night.state(now_s).lit == ANGERS.is_lit(now_s, 600, -600)
