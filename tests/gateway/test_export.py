"""Export: line protocol and long CSV from the spool, half-open windows, and `parse_when`."""

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ingest.readings import BinReading, PedestrianReading, Spooled, WaterReading
from gateway.store.export import CSV_HEADER, Format, export, parse_when
from gateway.store.lines import line
from gateway.store.spool import Spool

T0_S = datetime(2026, 11, 22, 1, 0, tzinfo=UTC).timestamp()
NOW_S = T0_S
FORMS = r"RFC 3339.*2026-11-22.*24h"


def _sample() -> list[Spooled]:
    """One reading of each kind, a quarter second apart."""
    walkers = PedestrianReading(
        device_id="c1", segment="s1", ts_s=T0_S, count=3, period_s=60.0, direction="forward"
    )
    bin_ = BinReading(
        device_id="b1",
        segment="s2",
        ts_s=T0_S + 0.25,
        fill_ratio=0.5,
        distance_mm=400.0,
        temperature_c=12.5,
        tilt=False,
        alarms=("fire", "tilt"),
    )
    meter = WaterReading(
        device_id="w1", segment="s3", ts_s=T0_S + 0.5, total_m3=12.5, alarms=("leak", "low")
    )
    return [Spooled(walkers, "c1:1"), Spooled(bin_, "b1:1"), Spooled(meter, "w1:1")]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    """A spool holding the sample, the first reading already written to the database."""
    spool = Spool(tmp_path / "spool.db")
    spool.append(_sample())
    spool.mark_written([spool.unwritten(1)[0][0]])
    return spool


def _export(spool: Spool, since_s: float, until_s: float, fmt: Format) -> str:
    out = io.StringIO()
    export(spool, since_s, until_s, fmt, out)
    return out.getvalue()


def test_line_protocol_export_is_line_of_each_row(spool: Spool) -> None:
    """Each exported line is storage.line() of a row, written or not, in time order."""
    out = io.StringIO()
    assert export(spool, T0_S, T0_S + 1, "lineprotocol", out) == 3
    expected = [line(reading) for _, reading in spool.between(T0_S, T0_S + 1, 10)]
    assert out.getvalue().splitlines() == expected
    assert [text.split(",")[0] for text in expected] == ["pedestrian", "bin", "water"]


def test_csv_export_round_trips(spool: Spool) -> None:
    """The CSV parses back to one row per field, with RFC 3339 times and joined alarms."""
    out = io.StringIO()
    assert export(spool, T0_S, T0_S + 1, "csv", out) == 3
    out.seek(0)
    parsed = list(csv.reader(out))
    assert tuple(parsed[0]) == CSV_HEADER
    rows = {
        (kind, field): (ts, device, segment, value)
        for ts, kind, device, segment, field, value in parsed[1:]
    }
    assert rows[("pedestrian", "count")] == ("2026-11-22T01:00:00.000000Z", "c1", "s1", "3")
    assert rows[("pedestrian", "direction")][3] == "forward"
    assert rows[("pedestrian", "counter_reset")][3] == "false"
    assert rows[("bin", "alarms")] == ("2026-11-22T01:00:00.250000Z", "b1", "s2", "fire;tilt")
    assert rows[("bin", "distance_mm")][3] == "400.0"
    assert rows[("water", "total_m3")][3] == "12.5"
    assert rows[("water", "alarms")][3] == "leak;low"
    assert ("water", "delta_m3") not in rows  # None is left out, as in line protocol
    times_s = {datetime.fromisoformat(ts).timestamp() for ts, *_ in rows.values()}
    assert times_s == {T0_S, T0_S + 0.25, T0_S + 0.5}


@pytest.mark.parametrize("fmt", ["lineprotocol", "csv"])
def test_since_is_included_and_until_is_not(spool: Spool, fmt: Format) -> None:
    """The window is [since, until): the reading at `until` is left out."""
    text = _export(spool, T0_S, T0_S + 0.5, fmt)
    assert "pedestrian" in text
    assert "bin" in text
    assert "water" not in text
    assert _export(spool, T0_S + 0.5, T0_S + 0.5, fmt) in ("", ",".join(CSV_HEADER) + "\n")


def test_chunks_neither_repeat_nor_skip_rows_sharing_a_time(tmp_path: Path) -> None:
    """Paging by (time, id) exports 25 readings at one instant exactly once across chunks."""
    spool = Spool(tmp_path / "spool.db")
    same = [
        Spooled(
            PedestrianReading(device_id="c1", segment="s1", ts_s=T0_S, count=n, period_s=0),
            f"c1:{n}",
        )
        for n in range(25)
    ]
    spool.append([*same, *_sample()[1:]])
    out = io.StringIO()
    assert export(spool, T0_S, T0_S + 1, "lineprotocol", out, chunk_rows=4) == 27
    assert out.getvalue().splitlines() == [line(r) for _, r in spool.between(T0_S, T0_S + 1, 100)]


def test_an_unknown_format_is_refused(spool: Spool) -> None:
    """A format that is neither lineprotocol nor csv is a ValueError naming both."""
    with pytest.raises(ValueError, match="lineprotocol, csv"):
        export(spool, T0_S, T0_S + 1, "json", io.StringIO())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected_s"),
    [
        ("2026-11-22T01:00:00Z", T0_S),
        ("2026-11-22T02:00:00+01:00", T0_S),
        ("2026-11-22t01:00:00.5z", T0_S + 0.5),
        ("2026-11-22", T0_S - 3600.0),
        ("24h", NOW_S - 86_400.0),
        ("7d", NOW_S - 7 * 86_400.0),
        ("30m", NOW_S - 1800.0),
        (" 1h30m ", NOW_S - 5400.0),
    ],
)
def test_parse_when_forms(text: str, expected_s: float) -> None:
    """RFC 3339 times, dates at midnight UTC, and durations before now."""
    assert parse_when(text, NOW_S) == expected_s


@pytest.mark.parametrize(
    "text", ["", "yesterday", "1000", "-1h", "2026-11-22T01:00:00", "2026-13-01", "5 parsecs"]
)
def test_parse_when_error_says_what_is_accepted(text: str) -> None:
    """Bare numbers, signs, times without offset and nonsense are refused with the forms."""
    with pytest.raises(ValueError, match=FORMS):
        parse_when(text, NOW_S)


_NEAR_MISSES = st.one_of(
    st.text(),
    st.from_regex(
        r"\A\d{1,5}-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{2}:\d{2}(\.\d*)?([Zz]|[+-]\d\d:\d\d)?)?\Z"
    ),
    st.from_regex(r"\A[0-9.]{1,400}\s?(ms|min|s|m|h|d|x)?\Z"),
)


@given(_NEAR_MISSES)
def test_parse_when_is_a_finite_float_or_a_value_error(text: str) -> None:
    """Whatever the text, parse_when returns a finite time or raises ValueError."""
    try:
        when_s = parse_when(text, NOW_S)
    except ValueError:
        return
    assert isinstance(when_s, float)
    assert math.isfinite(when_s)
