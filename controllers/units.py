"""Human forms that operators write in YAML: `30s`, `5m`, `1h30m`, `40%`, `P4`, `01:00`.

Each parser accepts the plain number too, so `hold_s: 30` and `hold_s: 30s` mean the same.
They raise ValueError with a message that says what form was expected; pydantic turns that
into a validation error with the key path.
"""

import math
import re
from datetime import time

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)", re.IGNORECASE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _plain_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def parse_duration_s(value: object) -> float:
    """Seconds from a number or a duration such as `90s`, `2m`, `1h30m`, `-10m`."""
    number = _plain_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s, 5m or 1h (got {value!r})")
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-").strip()
    try:
        return sign * float(body)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(body)
    if not parts or _DURATION_PART.sub("", body).strip():
        raise ValueError(f"expected a duration such as 30s, 5m or 1h (got {value!r})")
    return sign * sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)


def parse_ratio(value: object) -> float:
    """A level as a ratio 0..1 from `0.4` or `40%`."""
    number = _plain_number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100.0
            return float(text)
        except ValueError:
            pass
    raise ValueError(f"expected a level such as 0.4 or 40% (got {value!r})")


def parse_time_of_day(value: object) -> time:
    """A wall-clock time from `01:00` or `1:30:00` (YAML may also hand us minutes as an int)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 01:00 as the sexagesimal integer 60.
        return time(value // 60, value % 60)
    if isinstance(value, str):
        hour, _, rest = value.strip().partition(":")
        try:
            return time.fromisoformat(f"{hour.zfill(2)}:{rest}")
        except ValueError:
            pass
    raise ValueError(f"expected a time of day such as 01:00 (got {value!r})")


CLASS_LEVELS = ("P1", "P2", "P3", "P4", "P5", "P6")
RATED = "rated"
OFF = "off"
_LEVEL_FORMS = "a level such as 0.4 or 40%, a lighting class P1..P6, or rated"


def parse_level(value: object) -> float | str:
    """A level: a ratio 0..1 (`0.4`, `40%`), a lighting class (`P4`: the level at which the
    segment's lamps give that class's illuminance), or `rated` (the segment's rated class)."""
    if isinstance(value, str) and value.strip().upper() in CLASS_LEVELS:
        return value.strip().upper()
    if isinstance(value, str) and value.strip().lower() == RATED:
        return RATED
    try:
        ratio = parse_ratio(value)
    except ValueError:
        raise ValueError(f"expected {_LEVEL_FORMS} (got {value!r})") from None
    if math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"a level must be between 0 and 100% (got {value!r})")
    return ratio


def parse_schedule_level(value: object) -> float | str:
    """A level, or `off` (a part-night switch-off: the schedule says off)."""
    if isinstance(value, str) and value.strip().lower() == OFF:
        return OFF
    try:
        return parse_level(value)
    except ValueError as error:
        raise ValueError(f"{error}; or off") from None
