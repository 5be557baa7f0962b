"""Milesight VS350 codec: frames built from the vendor's channel table, and its decoded object.

There is no VS350 fixture, so every frame here is written out from the documented layout
(channel id, channel type, body; integers little-endian), field by field.
"""

import pytest

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_vs350 import CODEC

MILESIGHT_FPORT = 85

PERIODIC = bytes.fromhex(
    "0175"  # battery channel
    "5A"  # 90 %
    "0367"  # temperature channel
    "F500"  # 245 -> 24.5 °C
    "04CC"  # total in/out channel
    "2C01"  # total in 300
    "2D01"  # total out 301
    "05CC"  # period in/out channel
    "0700"  # period in 7
    "0300"  # period out 3
)
PERIODIC_VALUES = {"total_in": 300, "total_out": 301, "count_in": 7, "count_out": 3}


def _values(readings: list[CodecReading]) -> list[dict[str, object]]:
    assert all(r.kind == "pedestrian" and r.age_s == 0 for r in readings)
    return [dict(r.values) for r in readings]


def test_periodic_frame_gives_totals_and_period_counts() -> None:
    """Total and period in/out become total_in/out and count_in/out; the rest is ignored."""
    assert _values(CODEC.decode_bytes(PERIODIC, MILESIGHT_FPORT)) == [PERIODIC_VALUES]


def test_count_alarm_frames_still_give_the_counts() -> None:
    """Threshold-alarm frames carry the same counters, which are read; the alarm is not."""
    data = bytes.fromhex(
        "84CC"  # total in/out alarm channel
        "E803"  # total in 1000
        "E903"  # total out 1001
        "01"  # threshold alarm
        "85CC"  # period in/out alarm channel
        "3200"  # period in 50
        "0000"  # period out 0
        "01"  # threshold alarm
    )
    expected = {"total_in": 1000, "total_out": 1001, "count_in": 50, "count_out": 0}
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == [expected]


# Milesight-IoT/SensorDecoders@vs-series/vs350/README.md: its two history examples, one of
# each record type, and the VS360 README's frame of both (the same layout).
HISTORY_PERIOD = bytes.fromhex("20CE7B3AF164000B000400")  # 11 in, 4 out
HISTORY_TOTALS = bytes.fromhex("20CEFF3DF16401070002001D000800")  # + 29, 8
PERIOD_TS_S, TOTALS_TS_S = 1693530747.0, 1693531647.0


def test_history_record_without_totals_gives_its_period_counts_at_the_device_time() -> None:
    """A logged period (type 0) is counted as walkers, stamped by the device's clock."""
    (got,) = CODEC.decode_bytes(HISTORY_PERIOD, MILESIGHT_FPORT)
    assert (got.ts_s, dict(got.values)) == (PERIOD_TS_S, {"count_in": 11, "count_out": 4})


def test_history_record_with_totals_gives_its_totals_only() -> None:
    """A logged record with totals (type 1) is read by its totals: their delta holds it."""
    (got,) = CODEC.decode_bytes(HISTORY_TOTALS, MILESIGHT_FPORT)
    assert (got.ts_s, dict(got.values)) == (TOTALS_TS_S, {"total_in": 29, "total_out": 8})


def test_logged_periods_older_than_a_total_of_the_frame_are_inside_it() -> None:
    """Of both records in one frame, the older period is in the later totals: one reading."""
    got = CODEC.decode_bytes(HISTORY_PERIOD + HISTORY_TOTALS, MILESIGHT_FPORT)
    assert [(r.ts_s, dict(r.values)) for r in got] == [
        (TOTALS_TS_S, {"total_in": 29, "total_out": 8})
    ]


def test_history_comes_before_the_live_counters_that_cover_it() -> None:
    """Logged totals come first (oldest first); the live totals, newer, come last."""
    live = bytes.fromhex(
        "04CC"  # total in/out channel
        "1E00"  # total in 30
        "0900"  # total out 9
    )
    got = CODEC.decode_bytes(HISTORY_PERIOD + HISTORY_TOTALS + live, MILESIGHT_FPORT)
    assert [(r.ts_s, dict(r.values)) for r in got] == [
        (TOTALS_TS_S, {"total_in": 29, "total_out": 8}),
        (None, {"total_in": 30, "total_out": 9}),
    ]


def test_vendor_history_object_reads_like_its_bytes() -> None:
    """The vendor decoder's `history` list gives what the bytes it came from give."""
    obj = {
        "history": [
            {"period_in": 11, "period_out": 4, "timestamp": 1693530747},
            {
                "period_in": 7,
                "period_out": 2,
                "total_in": 29,
                "total_out": 8,
                "timestamp": 1693531647,
            },
        ]
    }
    frame = HISTORY_PERIOD + HISTORY_TOTALS
    assert CODEC.from_object(obj) == CODEC.decode_bytes(frame, MILESIGHT_FPORT)
    assert CODEC.describe(frame, MILESIGHT_FPORT) == obj


@pytest.mark.parametrize(
    "obj",
    [
        {"history": {"period_in": 1}},
        {"history": [7]},
        {"history": [{"period_in": 1}]},
        {"history": [{"period_in": 1, "timestamp": -5}]},
        {"history": [{"period_in": 2**16, "timestamp": 5}]},
    ],
)
def test_bad_vendor_history_is_refused(obj: dict[str, object]) -> None:
    """A history that is not a list of timed records with 16-bit counters is refused."""
    with pytest.raises(CodecError, match="history"):
        CODEC.from_object(obj)


def test_describe_gives_the_vendor_names_of_a_frame_without_readings() -> None:
    """What the README's battery and temperature frame says, though it makes no reading."""
    data = bytes.fromhex("01756403670C01")  # battery 100 %, temperature 26.8 °C
    assert CODEC.decode_bytes(data, MILESIGHT_FPORT) == []
    assert CODEC.describe(data, MILESIGHT_FPORT) == {"battery": 100, "temperature": 26.8}


def test_describe_names_alarm_types_and_where_reading_stopped() -> None:
    """Alarm types become the vendor's words; an unknown channel ends the description."""
    data = bytes.fromhex("836750000306CC01000200")  # high temperature alarm, then junk
    assert CODEC.describe(data, MILESIGHT_FPORT) == {
        "temperature": 8.0,
        "temperature_alarm": "high temperature alarm",
        "unreadable": "unknown channel 0x06 type 0xcc at byte 5",
    }


def test_unknown_history_record_type_is_refused() -> None:
    """A history record type other than 0 or 1 has no known size, so the frame is refused."""
    data = bytes.fromhex(
        "20CE"  # history channel
        "00E1F565"  # device clock
        "02"  # record type 2: undocumented
        "0000000000000000"
    )
    with pytest.raises(CodecError, match="history record type 2"):
        CODEC.decode_bytes(data, MILESIGHT_FPORT)


def test_device_information_frame_gives_no_reading() -> None:
    """A power-on frame of device-information channels is understood and yields nothing."""
    data = bytes.fromhex(
        "FF0B"  # device status channel
        "FF"  # powered on
        "FF01"  # protocol version channel
        "01"  # v0.1
        "FF16"  # serial number channel
        "0123456789ABCDEF"  # 8-byte serial number
        "FF09"  # hardware version channel
        "0140"  # v1.4
        "FF0A"  # firmware version channel
        "0114"  # v1.20
        "FF0F"  # LoRaWAN class channel
        "00"  # class A
    )
    assert CODEC.decode_bytes(data, MILESIGHT_FPORT) == []


def test_unknown_channel_is_refused_by_name() -> None:
    """A channel the VS350 layout does not have is refused, naming its id and type."""
    data = bytes.fromhex("06CC01000200")  # channel 06 CC: not in the layout
    with pytest.raises(CodecError, match="channel 0x06 type 0xcc at byte 0"):
        CODEC.decode_bytes(data, MILESIGHT_FPORT)


def test_vendor_object_reads_like_the_bytes() -> None:
    """The vendor decoder's field names give the same reading as the bytes they came from."""
    obj = {
        "battery": 90,
        "temperature": 24.5,
        "total_in": 300,
        "total_out": 301,
        "period_in": 7,
        "period_out": 3,
    }
    assert CODEC.from_object(obj) == CODEC.decode_bytes(PERIODIC, MILESIGHT_FPORT)


def test_vendor_object_without_counters_gives_no_reading() -> None:
    """An object with only battery and temperature yields nothing to store."""
    assert CODEC.from_object({"battery": 90, "temperature": 24.5}) == []


@pytest.mark.parametrize(
    "obj",
    [{"total_in": 2**16}, {"period_out": -3}, {"total_out": "301"}, {"period_in": 2.5}],
)
def test_bad_vendor_object_counters_are_refused(obj: dict[str, object]) -> None:
    """Counters outside the VS350's 16-bit fields, or not whole numbers, are refused."""
    with pytest.raises(CodecError):
        CODEC.from_object(obj)
