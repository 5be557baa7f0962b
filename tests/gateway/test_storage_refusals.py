"""What the database cannot take is dead-lettered with a reason, never marked written silently."""

import io
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings.site import InfluxSettings
from gateway.store.database import Writer
from gateway.store.export import export
from gateway.store.lines import INT64_MAX, INT64_MIN, UnstorableError, line
from gateway.store.spool import Spool, SpoolRow
from tests.conftest import Victoria

NOBODY = "http://127.0.0.1:9"  # nothing listens there: a write to it would be an error


def _row(seq: int, kind: str, **fields: object) -> SpoolRow:
    """A row as an older version may have spooled it, whatever its values."""
    body = {"device_id": f"d{seq}", "segment": "s1", **fields}
    ts_s = float(str(fields.get("ts_s", 0.0)))
    return SpoolRow(ts_s, kind, f"d{seq}", f"d{seq}:{seq}", 0, json.dumps(body))


def _writer(spool: Spool, url: str, refused: list[tuple[Mapping[str, object], str]]) -> Writer:
    settings = InfluxSettings(url=url, batch_size=100)
    return Writer(spool, settings, token="", reject=lambda body, why: refused.append((body, why)))


def _unstorable() -> list[SpoolRow]:
    """A meter clock in 2302, `ts: 1e300` read as milliseconds, a count past 64 bits and a bin
    reading without a value: each one a line that VictoriaMetrics skips with a 204."""
    return [
        _row(1, "water", ts_s=10.5e9, total_m3=1.0),
        _row(2, "water", ts_s=1e297, total_m3=2.0),
        _row(3, "pedestrian", ts_s=time.time() - 60, count=2**64, period_s=0.0),
        _row(4, "bin", ts_s=time.time() - 60, alarms=[]),
    ]


def test_unstorable_rows_are_dead_lettered_and_the_rest_is_stored(
    tmp_path: Path, victoria: Victoria
) -> None:
    """Four rows the protocol cannot carry go to the dead-letter; the good row is stored."""
    spool = Spool(tmp_path / "spool.db")
    good = _row(0, "water", ts_s=time.time() - 60, total_m3=5.0)
    spool.append_rows([good, *_unstorable()])
    refused: list[tuple[Mapping[str, object], str]] = []
    writer = _writer(spool, victoria.url, refused)
    outcome = writer.drain_once()
    writer.close()
    assert outcome.retry_after_s is None and len(outcome.written) == 1
    assert sorted(str(body["device_id"]) for body, _ in refused) == ["d1", "d2", "d3", "d4"]
    assert all(why.startswith("not storable in line protocol: ") for _, why in refused)
    assert spool.stats().unwritten == 0
    assert victoria.count("water_total_m3") == 1


def test_a_refused_row_stays_unwritten_until_it_is_dead_lettered(tmp_path: Path) -> None:
    """A crash while dead-lettering leaves the rows to refuse unwritten: refused again later."""
    spool = Spool(tmp_path / "spool.db")
    spool.append_rows(_unstorable())

    def crash(body: Mapping[str, object], why: str) -> None:
        raise OSError("disk full")

    writer = Writer(spool, InfluxSettings(url=NOBODY), token="", reject=crash)
    with pytest.raises(OSError, match="disk full"):
        writer.drain_once()
    assert spool.stats().unwritten == 4


class _PartialWrites(BaseHTTPRequestHandler):
    """A database that answers a batch holding a "poison" line as InfluxDB answers a partial
    write (400), and stores the other batches whole."""

    stored: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        lines = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        if any("poison" in text for text in lines):
            reply = b'{"code":"invalid","message":"partial write: field type conflict"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        type(self).stored += lines
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads what was stored, not the access log


@pytest.fixture
def partial_writes() -> Iterator[str]:
    """The URL of a `_PartialWrites` database, for the test's duration."""
    _PartialWrites.stored = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PartialWrites)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_partial_write_is_split_down_to_the_refused_line(
    tmp_path: Path, partial_writes: str
) -> None:
    """A 400 for one line of ten: nine are stored, the one goes to the dead-letter with the
    database's words, and no row is marked written without being one or the other."""
    spool = Spool(tmp_path / "spool.db")
    now_s = time.time() - 60
    spool.append_rows(
        [_row(seq, "water", ts_s=now_s + seq, total_m3=float(seq)) for seq in range(9)]
        + [_row(9, "water", ts_s=now_s, total_m3=1.0, alarms=["poison"])]
    )
    refused: list[tuple[Mapping[str, object], str]] = []
    writer = _writer(spool, partial_writes, refused)
    outcome = writer.drain_once()
    writer.close()
    assert len(outcome.written) == 9 and len(_PartialWrites.stored) == 9
    assert [(body["device_id"], "partial write" in why) for body, why in refused] == [("d9", True)]
    assert spool.stats().unwritten == 0


def test_an_export_shows_an_unstorable_row_as_a_comment(tmp_path: Path) -> None:
    """`luciole export` keeps such a row visible (a comment line, which databases skip)."""
    spool = Spool(tmp_path / "spool.db")
    spool.append_rows([_row(3, "pedestrian", ts_s=100.0, count=2**64, period_s=0.0)])
    out = io.StringIO()
    assert export(spool, 0.0, 200.0, "lineprotocol", out) == 1
    assert out.getvalue().startswith("# not storable (count 18446744073709551616 does not fit")


def test_line_protocol_examples_of_what_it_cannot_carry() -> None:
    """Each refusal names its reason: the years, the 64 bits, the missing value."""
    with pytest.raises(UnstorableError, match="years 1677 to 2262"):
        line({"kind": "water", "device_id": "w", "ts_s": -27080311729.0 * 10, "total_m3": 1.0})
    with pytest.raises(UnstorableError, match="64-bit"):
        line({"kind": "pedestrian", "device_id": "c", "ts_s": 1.0, "count": -(2**63) - 1})
    with pytest.raises(UnstorableError, match="no value"):
        line({"kind": "bin", "device_id": "b", "ts_s": 1.0, "tilt": None, "alarms": []})


NUMBERS = (
    st.integers()
    | st.floats()
    | st.floats(min_value=-1e19, max_value=1e19)
    | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 9.3e9, -9.3e9, 1e297])
)
WORDS = st.text(alphabet="abc ,=", max_size=5)  # a registry's names: no newline in them
VALUES = NUMBERS | st.none() | st.booleans() | WORDS | st.lists(WORDS, max_size=2)


@settings(deadline=None)
@given(
    st.sampled_from(["water", "pedestrian", "bin"]),
    NUMBERS,
    st.dictionaries(st.sampled_from(["count", "total_m3", "tilt", "alarms", "event"]), VALUES),
)
def test_a_line_is_valid_line_protocol_or_refused(
    kind: str, ts_s: float, fields: dict[str, object]
) -> None:
    """Any values: a line whose timestamp and integers fit 64 bits with finite floats, or a
    refusal; never a line that a database would skip."""
    try:
        text = line({"kind": kind, "device_id": "d", "ts_s": ts_s, **fields})
    except UnstorableError:
        return
    assert text.startswith(f"{kind},device_id=d ")
    assert -(2**63) < int(text.rsplit(" ", 1)[1]) < 2**63 - 1
    for value in fields.values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert INT64_MIN <= value <= INT64_MAX
        if isinstance(value, float):
            assert math.isfinite(value)
