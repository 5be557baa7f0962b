"""Device times: an implausible one gives way to the receive time; nothing unstorable is taken."""

import base64
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings import SiteConfig
from gateway.ingest.clocks import AHEAD_S, EARLIEST_S, WARN_EVERY_S, DeviceClocks
from gateway.ingest.intake import Accepted, Duplicate, Elsewhere, Intake, Rejection
from gateway.ops.metrics import Metrics
from gateway.store.lines import line
from gateway.store.spool import rows
from tests.conftest import DECODER_EXAMPLES

RECEIVED_S = 1_795_381_445.0  # 2026-11-22T21:04:05Z
WMBUS = Path(__file__).resolve().parents[1] / "formats" / "wmbusmeters" / "kamwater_ok"
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "t", "latitude": 47.0, "longitude": -0.5},
        "segments": [{"id": "s1", "street": "a", "order": 1, "length_m": 30, "rated_power_w": 40}],
        "sources": [
            {"topic": "senml/#", "format": "senml"},
            {"topic": "wmbus/#", "format": "wmbusmeters"},
            {"topic": "cs/+/up", "format": "chirpstack", "codec": "milesight-em400udl"},
        ],
        "devices": {
            "c1": {"kind": "pedestrian", "segment": "s1", "network_ids": ["urn:dev:ow:c1"]},
            "m1": {"kind": "water", "segment": "s1", "network_ids": ["44556677"]},
            "b1": {"kind": "bin", "segment": "s1", "network_ids": ["1000000000000001"]},
        },
    }
)


def _meter(
    intake: Intake, ts: object, received_s: float = RECEIVED_S
) -> Accepted | Duplicate | Elsewhere | Rejection:
    """A native water reading sent with `ts`, received at `received_s`."""
    body = json.dumps({"total_m3": 12.5, "ts": ts}).encode()
    return intake.message("luciole/t/sensor/water/m1", body, received_s)


def _stored_ts_s(got: Accepted | Duplicate | Elsewhere | Rejection) -> float:
    assert isinstance(got, Accepted), got
    (reading,) = got.readings
    return reading.ts_s


@pytest.mark.parametrize(
    "ts",
    [
        "2300-01-01T00:00:00Z",  # a meter clock three centuries ahead
        1e300,  # epoch milliseconds, then seconds: still 10^297 s
        "1111-11-11T11:11:11Z",  # wmbusmeters' documentation placeholder
        0,  # a clock that lost power: 1970
        "2000-01-01T03:00:00Z",  # a DS3231 reset to 2000, running since
        -5,
        RECEIVED_S + AHEAD_S + 1,  # just over a day ahead
    ],
)
def test_implausible_device_times_give_way_to_the_receive_time(ts: object) -> None:
    """The reading is kept, at its receive time, and the device's clock is counted."""
    intake = Intake(SITE)
    assert _stored_ts_s(_meter(intake, ts)) == RECEIVED_S
    assert intake.clocks.implausible == {"m1": 1}


@pytest.mark.parametrize(
    "ts",
    [
        RECEIVED_S - 3 * 86_400,  # a meter's log, three days old
        EARLIEST_S,
        RECEIVED_S + 23 * 3600,  # a local time sent as UTC, east of Greenwich
        "2026-11-22T22:04:05+01:00",
    ],
)
def test_plausible_device_times_are_kept(ts: object) -> None:
    """Back-dated by days, or ahead by less than a day: the device's time is stored."""
    intake = Intake(SITE)
    expected = RECEIVED_S if isinstance(ts, str) else float(str(ts))
    assert _stored_ts_s(_meter(intake, ts)) == expected
    assert intake.clocks.implausible == {}


def test_the_wmbusmeters_placeholder_time_is_the_receive_time() -> None:
    """A wmbusmeters telegram dated 1111-11-11T11:11:11Z is stored when it was received."""
    got = Intake(SITE).message("wmbus/m", (WMBUS / "payload.json").read_bytes(), RECEIVED_S)
    assert _stored_ts_s(got) == RECEIVED_S


def test_a_broken_clock_is_logged_once_an_hour_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """100 readings in an hour: one warning naming the device; the next hour, one more."""
    intake = Intake(SITE)
    with caplog.at_level(logging.WARNING, logger="luciole.intake"):
        for minute in range(100):
            _meter(intake, "2300-01-01T00:00:00Z", RECEIVED_S + minute * 30)
        _meter(intake, "2300-01-01T00:00:00Z", RECEIVED_S + WARN_EVERY_S)
    facts = [record.__dict__["luciole_fields"] for record in caplog.records]
    assert [(f["device"], f["since_last_warning"]) for f in facts] == [("m1", 1), ("m1", 100)]
    assert facts[0]["device_time"] == "2300-01-01T00:00:00Z"
    assert intake.clocks.implausible == {"m1": 101}


def test_the_metric_counts_every_implausible_time() -> None:
    """The daemon's counter sees each reading whose time was replaced."""
    metrics = Metrics()
    intake = Intake(SITE, clocks=DeviceClocks(metrics.clock_implausible))
    for ts in (0, 1e300, RECEIVED_S):
        _meter(intake, ts)
    assert b"luciole_clock_implausible_total 2.0" in metrics.render()


def test_a_count_beyond_64_bits_is_refused_with_its_reason() -> None:
    """2^64 walkers is no count a database stores: refused at intake, not lost on the way out."""
    body = json.dumps([{"n": "urn:dev:ow:c1:count", "v": 2**64, "t": RECEIVED_S}]).encode()
    got = Intake(SITE).message("senml/c1", body, RECEIVED_S)
    assert isinstance(got, Rejection), got
    assert (got.reason, "64-bit" in got.detail) == ("invalid", True)


def test_a_bin_reading_with_nothing_to_store_is_refused() -> None:
    """An EM400-UDL uplink with its battery level alone makes no storable bin reading."""
    uplink = {
        "deduplicationId": "d-1",
        "time": "2026-11-22T21:04:05Z",
        "deviceInfo": {"devEui": "1000000000000001"},
        "fPort": 85,
        "data": base64.b64encode(bytes.fromhex("017564")).decode(),  # battery 100 %
    }
    got = Intake(SITE).message("cs/1/up", json.dumps(uplink).encode(), RECEIVED_S)
    assert isinstance(got, Rejection) and got.reason == "no_readings", got


def _rfc3339(moment: datetime, offset_min: int) -> str:
    """`moment` (UTC) as RFC 3339 text in a zone `offset_min` minutes east."""
    zone = timezone(timedelta(minutes=offset_min))
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()


TIMES = (
    st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**39), max_value=10**39)
    | st.floats(min_value=EARLIEST_S - 1e6, max_value=RECEIVED_S * 1000 + 1e9)
    | st.builds(
        _rfc3339,
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.integers(min_value=-23 * 60, max_value=23 * 60),
    )
)


@settings(max_examples=DECODER_EXAMPLES, deadline=None)
@given(TIMES, st.floats(min_value=EARLIEST_S, max_value=4e9))
def test_whatever_a_device_clock_says_an_accepted_reading_can_be_stored(
    ts: object, received_s: float
) -> None:
    """Any time in: the reading is refused, or stored at a time line protocol carries and
    within a day of the receive time's future (what VictoriaMetrics takes)."""
    got = Intake(SITE).message(
        "luciole/t/sensor/water/m1", json.dumps({"total_m3": 1.0, "ts": ts}).encode(), received_s
    )
    if isinstance(got, Rejection):
        return
    assert isinstance(got, Accepted)
    for row in rows(got.spooled):
        assert EARLIEST_S <= row.ts_s <= received_s + AHEAD_S
        line({"kind": row.kind, **json.loads(row.body)})  # raises if it could not be sent
