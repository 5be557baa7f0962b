"""InfluxDB line protocol: one spooled reading as one line, or the reason it cannot be one.

A line is made from the spooled row alone, the same way each time, so a batch sent again after
a crash (written to the database, killed before the spool marked it) is made of the very same
points: measurement, tags, fields and nanosecond timestamp. A database that keeps one point per
series and timestamp then stores each reading once (see the README's storage paragraphs).

What the protocol cannot carry is refused here, before it is sent: InfluxDB answers 400 for it,
but VictoriaMetrics answers 204 and skips the line, so a reading sent that way would be marked
written and be in neither the database nor the dead-letter file.
"""

import math
from collections.abc import Mapping

TAGS = ("device_id", "segment", "direction")
_SKIP = frozenset({"kind", "ts_s", *TAGS})
# The protocol's integers and nanosecond timestamps are signed 64-bit; InfluxDB documents its
# timestamps as -9223372036854775806..9223372036854775806 (years 1677 to 2262).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_TS_NS_LIMIT = 2**63 - 2


class UnstorableError(ValueError):
    """A reading that line protocol cannot carry; the message says why."""


def line(reading: Mapping[str, object]) -> str:
    """One spooled reading as InfluxDB line protocol (nanosecond timestamp)."""
    measurement = str(reading["kind"])
    tags = "".join(
        f",{key}={_escape_tag(str(reading[key]))}" for key in TAGS if reading.get(key) is not None
    )
    fields = ",".join(
        f"{key}={_field(key, value)}"
        for key, value in reading.items()
        if key not in _SKIP and value is not None and value not in ([], ())
    )
    if not fields:
        raise UnstorableError(f"a {measurement} reading with no value to store")
    return f"{measurement}{tags} {fields} {_ts_ns(reading.get('ts_s'))}"


def _ts_ns(value: object) -> int:
    seconds = value if type(value) is float else _number("ts_s", value)
    if not math.isfinite(seconds) or abs(seconds) * 1e9 > _TS_NS_LIMIT:
        raise UnstorableError(f"time {seconds!r} s is outside the years 1677 to 2262")
    return round(seconds * 1e9)


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnstorableError(f"{key} is not a number: {value!r:.40}")
    return float(value)


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _field(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise UnstorableError(f"{key} {value} does not fit a 64-bit integer")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableError(f"{key} is {value!r}, not a finite number")
        return repr(value)
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
