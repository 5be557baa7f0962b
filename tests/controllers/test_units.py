"""The human forms operators write in YAML: durations, levels and times of day."""

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.units import parse_duration_s, parse_ratio, parse_time_of_day

UNIT_S = {"s": 1, "m": 60, "h": 3600}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2d", 172800.0),
        (" 5 m ", 300.0),
        ("-10m", -600.0),
        ("45", 45.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_duration_forms(text: object, seconds: float) -> None:
    """Each documented duration form (and a plain number) gives the right number of seconds."""
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5 parsecs", "1e3s", "s", "m10", "10x"])
def test_duration_rejects_other_text(text: str) -> None:
    """Text that is not a duration raises ValueError naming the expected forms."""
    with pytest.raises(ValueError, match="expected a duration such as 30s"):
        parse_duration_s(text)


@pytest.mark.parametrize("value", [True, None, [30], {"s": 30}])
def test_duration_rejects_non_numbers(value: object) -> None:
    """Booleans, None and containers are not durations (True must not mean 1 s)."""
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration_s(value)


@pytest.mark.parametrize(("text", "seconds"), [("5min", 300.0), ("1h30min", 5400.0)])
def test_duration_min_unit(text: str, seconds: float) -> None:
    """The `min` unit listed in _UNIT_S is accepted (5min is 300 s)."""
    assert parse_duration_s(text) == seconds


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(UNIT_S)))
def test_duration_round_trips_whole_units(number: int, unit: str) -> None:
    """`Ns`, `Nm`, `Nh` parse to exactly N times the unit, with or without a minus sign."""
    assert parse_duration_s(f"{number}{unit}") == number * UNIT_S[unit]
    assert parse_duration_s(f"-{number}{unit}") == -number * UNIT_S[unit]


@given(
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=59),
)
def test_duration_round_trips_compound(hours: int, minutes: int, seconds: int) -> None:
    """`XhYmZs` adds its parts."""
    expected = hours * 3600 + minutes * 60 + seconds
    assert parse_duration_s(f"{hours}h{minutes}m{seconds}s") == expected


@given(st.text(max_size=30))
def test_duration_never_raises_other_errors(text: str) -> None:
    """Any text gives a float or a ValueError, never another exception."""
    try:
        result = parse_duration_s(text)
    except ValueError:
        return
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("40%", 0.4), (" 40 % ", 0.4), ("0.4", 0.4), (0.4, 0.4), (1, 1.0), ("100%", 1.0)],
)
def test_ratio_forms(text: object, ratio: float) -> None:
    """A level is read from a ratio or a percentage."""
    assert parse_ratio(text) == pytest.approx(ratio)


@pytest.mark.parametrize("value", ["abc", "%", "40%%", True, None, [0.4]])
def test_ratio_rejects_other_values(value: object) -> None:
    """Anything else raises ValueError naming the expected forms."""
    with pytest.raises(ValueError, match=r"expected a level such as 0\.4 or 40%"):
        parse_ratio(value)


@given(st.integers(min_value=0, max_value=100))
def test_ratio_percent_round_trips(percent: int) -> None:
    """`N%` is N / 100."""
    assert parse_ratio(f"{percent}%") == pytest.approx(percent / 100)


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none(), st.booleans()))
def test_ratio_never_raises_other_errors(value: object) -> None:
    """Any value gives a float or a ValueError, never another exception."""
    try:
        result = parse_ratio(value)
    except ValueError:
        return
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("01:00", time(1, 0)),
        ("1:30", time(1, 30)),
        ("23:59", time(23, 59)),
        ("00:00", time(0, 0)),
        (60, time(1, 0)),  # YAML 1.1 reads an unquoted 01:00 as 60
        (0, time(0, 0)),
        (time(5, 6), time(5, 6)),
    ],
)
def test_time_of_day_forms(value: object, expected: time) -> None:
    """Clock times, and YAML's sexagesimal minutes, become a time of day."""
    assert parse_time_of_day(value) == expected


@pytest.mark.parametrize("value", ["24:00", "7", "noon", 1440, -1, True, None, 1.5])
def test_time_of_day_rejects_other_values(value: object) -> None:
    """Out-of-range or non-time values raise ValueError naming the expected form."""
    with pytest.raises(ValueError, match="expected a time of day such as 01:00"):
        parse_time_of_day(value)


def test_time_of_day_with_seconds_and_one_digit_hour() -> None:
    """`1:30:00`, a form the docstring promises, is 01:30:00."""
    assert parse_time_of_day("1:30:00") == time(1, 30)


@given(st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59))
def test_time_of_day_round_trips(hour: int, minute: int) -> None:
    """`HH:MM` and YAML's `HH*60+MM` both give the same time."""
    assert parse_time_of_day(f"{hour:02d}:{minute:02d}") == time(hour, minute)
    assert parse_time_of_day(hour * 60 + minute) == time(hour, minute)
