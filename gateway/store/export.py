"""Spool → a file: InfluxDB line protocol (to load into a database) or CSV (for a spreadsheet).

Both formats are streamed a chunk of rows at a time, so a spool of months exports in constant
memory. The CSV is long (one row per field), so the three reading kinds share one table.
"""

import csv
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

from controllers.units import parse_duration_s
from gateway.store.lines import UnstorableError, line
from gateway.store.spool import Spool

Format = Literal["lineprotocol", "csv"]
FORMATS: tuple[Format, ...] = ("lineprotocol", "csv")
CHUNK_ROWS = 10_000
CSV_HEADER = ("ts", "kind", "device_id", "segment", "field", "value")

# Columns of their own in the CSV; every other key of a reading is a field.
_KEYS = frozenset({"kind", "ts_s", "device_id", "segment"})
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?", re.ASCII
)
_BARE_NUMBER = re.compile(r"[\d.]+", re.ASCII)
_WHEN_FORMS = (
    "an RFC 3339 time such as 2026-11-22T01:00:00Z (with Z or an offset), "
    "a date such as 2026-11-22 (midnight UTC), or a time ago such as 30m, 24h or 7d"
)

Rows = Sequence[tuple[int, Mapping[str, object]]]


def export(
    spool: Spool,
    since_s: float,
    until_s: float,
    fmt: Format,
    out: TextIO,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write the readings with `since_s <= ts_s < until_s` to `out` in `fmt`, oldest first;
    how many readings (spool rows, not CSV lines) were written."""
    write = _writer(fmt, out)
    exported = 0
    for chunk in _chunks(spool, since_s, until_s, chunk_rows):
        write(chunk)
        exported += len(chunk)
    return exported


def _writer(fmt: str, out: TextIO) -> Callable[[Rows], None]:
    if fmt == "lineprotocol":
        return lambda rows: out.writelines(_line_or_comment(reading) for _, reading in rows)
    if fmt == "csv":
        # "\n" rather than csv's default "\r\n": the output often goes to a pipe or a shell.
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        return lambda rows: writer.writerows(_csv_rows(rows))
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _line_or_comment(reading: Mapping[str, object]) -> str:
    """The reading's line; one the protocol cannot carry (spooled by an older version) as a
    comment with the reason, which databases skip and a reader still sees."""
    try:
        return f"{line(reading)}\n"
    except UnstorableError as error:
        return f"# not storable ({error}): {json.dumps(reading)}\n"


def _chunks(spool: Spool, since_s: float, until_s: float, chunk_rows: int) -> Iterator[Rows]:
    """The spool's rows in the window, `chunk_rows` at a time (keyset paging on ts and id)."""
    after_id: int | None = None
    while True:
        chunk = spool.between(since_s, until_s, chunk_rows, after_id=after_id)
        if chunk:
            yield chunk
        if len(chunk) < chunk_rows:
            return
        after_id, last = chunk[-1]
        since_s = float(str(last["ts_s"]))


def _csv_rows(rows: Rows) -> Iterator[tuple[str, ...]]:
    for _, reading in rows:
        head = (
            _rfc3339(float(str(reading["ts_s"]))),
            str(reading["kind"]),
            str(reading["device_id"]),
            str(reading.get("segment", "")),
        )
        for field, value in reading.items():
            # Absent values are left out, as line protocol leaves them out.
            if field not in _KEYS and value is not None and value not in ([], ()):
                yield (*head, field, _csv_value(value))


def _csv_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _rfc3339(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_when(text: str, now_s: float) -> float:
    """Epoch seconds from an RFC 3339 time, a date (midnight UTC) or a time before `now_s`
    such as `24h` or `7d`; ValueError saying which forms are accepted otherwise."""
    stripped = text.strip()
    if _RFC3339.fullmatch(stripped.upper()):
        return _absolute_s(stripped.upper(), text)
    # A bare number is refused: seconds ago and epoch seconds are both plausible readings.
    if stripped[:1].isascii() and stripped[:1].isdigit() and not _BARE_NUMBER.fullmatch(stripped):
        return _ago_s(stripped, now_s, text)
    raise ValueError(f"expected {_WHEN_FORMS} (got {text!r})")


def _absolute_s(stamp: str, text: str) -> float:
    try:
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None:  # the date-only form; a time without offset does not match
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{error}: expected {_WHEN_FORMS} (got {text!r})") from None


def _ago_s(duration: str, now_s: float, text: str) -> float:
    try:
        when_s = now_s - parse_duration_s(duration)
    except ValueError:
        raise ValueError(f"expected {_WHEN_FORMS} (got {text!r})") from None
    if not math.isfinite(when_s):
        raise ValueError(f"{text!r} is too long ago")
    return when_s
