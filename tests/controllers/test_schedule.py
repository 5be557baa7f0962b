"""The astronomical clock: lit between sunset and sunrise (with offsets), at any latitude."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controllers.schedule import AstronomicalClock

PARIS = ZoneInfo("Europe/Paris")
OSLO = ZoneInfo("Europe/Oslo")
DAY = date(2026, 11, 10)


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = PARIS) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()


@pytest.fixture
def angers() -> AstronomicalClock:
    """The site of config/site.yaml."""
    return AstronomicalClock(47.4712, -0.5518, "Europe/Paris")


@pytest.fixture
def tromso() -> AstronomicalClock:
    return AstronomicalClock(69.65, 18.96, "Europe/Oslo")


def test_lit_late_evening_and_not_at_noon_in_november(angers: AstronomicalClock) -> None:
    """In Angers in November the lamps are lit at 23:00 and at 06:00, and off at 12:00."""
    assert angers.is_lit(at(DAY, 23), 0, 0)
    assert angers.is_lit(at(DAY, 6), 0, 0)
    assert not angers.is_lit(at(DAY, 12), 0, 0)


def test_sun_times_are_plausible_for_angers_in_november(angers: AstronomicalClock) -> None:
    """Sunrise is around 08:00 and sunset around 17:30 local time on 10 November."""
    rise, set_ = angers.sun_times(DAY)
    assert rise is not None
    assert set_ is not None
    assert at(DAY, 7, 30) < rise < at(DAY, 8, 30)
    assert at(DAY, 17) < set_ < at(DAY, 18)


def test_sunset_offset_moves_the_switch_on_time(angers: AstronomicalClock) -> None:
    """Five minutes after sunset: lit with no offset, not yet lit with +10 min, lit with -10."""
    _, sunset = angers.sun_times(DAY)
    assert sunset is not None
    now = sunset + 300
    assert angers.is_lit(now, 0, 0)
    assert not angers.is_lit(now, 600, 0)
    assert angers.is_lit(sunset - 300, -600, 0)
    assert not angers.is_lit(sunset - 300, 0, 0)


def test_sunrise_offset_moves_the_switch_off_time(angers: AstronomicalClock) -> None:
    """Five minutes before sunrise: lit with no offset, already off with -10 min."""
    sunrise, _ = angers.sun_times(DAY)
    assert sunrise is not None
    assert angers.is_lit(sunrise - 300, 0, 0)
    assert not angers.is_lit(sunrise - 300, 0, -600)
    assert angers.is_lit(sunrise + 300, 0, 600)
    assert not angers.is_lit(sunrise + 300, 0, 0)


def test_switch_is_exact_at_sunset(angers: AstronomicalClock) -> None:
    """Off one second before sunset + offset, on at that instant."""
    _, sunset = angers.sun_times(DAY)
    assert sunset is not None
    assert not angers.is_lit(sunset + 600 - 1, 600, 0)
    assert angers.is_lit(sunset + 600, 600, 0)


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_dst_change_days_are_sane(angers: AstronomicalClock, day: date) -> None:
    """On DST change days sunrise < sunset, both on that local date, with no one-hour jump."""
    rise, set_ = angers.sun_times(day)
    assert rise is not None
    assert set_ is not None
    assert rise < set_
    assert datetime.fromtimestamp(rise, PARIS).date() == day
    assert datetime.fromtimestamp(set_, PARIS).date() == day
    length = set_ - rise
    for neighbour in (day - timedelta(days=1), day + timedelta(days=1)):
        other_rise, other_set = angers.sun_times(neighbour)
        assert other_rise is not None
        assert other_set is not None
        assert abs((other_set - other_rise) - length) < 600  # day length changes by minutes
    assert angers.is_lit(at(day, 1), 0, 0)
    assert not angers.is_lit(at(day, 12), 0, 0)
    assert angers.is_lit(at(day, 23), 0, 0)


def test_local_date_follows_the_time_zone(angers: AstronomicalClock) -> None:
    """00:30 local on 11 November is 23:30 UTC on the 10th, but the local date is the 11th."""
    assert angers.local_date(at(date(2026, 11, 11), 0, 30)) == date(2026, 11, 11)


def test_polar_summer_is_never_lit_at_midnight(tromso: AstronomicalClock) -> None:
    """In Tromsø the midnight sun keeps the lamps off at every local midnight of June."""
    for day in range(1, 31):
        when = date(2026, 6, day)
        assert tromso.sun_times(when) == (None, None)
        assert not tromso.is_lit(at(when, 0, zone=OSLO), 0, 0)


def test_polar_night_is_lit_at_noon(tromso: AstronomicalClock) -> None:
    """In Tromsø the polar night keeps the lamps on at every local noon of December."""
    for day in range(1, 32):
        assert tromso.is_lit(at(date(2026, 12, day), 12, zone=OSLO), 0, 0)


def test_polar_offsets_do_not_matter_without_sunrise(tromso: AstronomicalClock) -> None:
    """With no sunrise or sunset, offsets cannot switch the lamps either way."""
    summer = at(date(2026, 6, 21), 0, zone=OSLO)
    winter = at(date(2026, 12, 21), 12, zone=OSLO)
    assert not tromso.is_lit(summer, -7200, 7200)
    assert tromso.is_lit(winter, 7200, -7200)
