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


def test_history_records_of_both_sizes_are_stepped_over() -> None:
    """History records (9 or 13 bytes by record type) are skipped and what follows is read."""
    data = bytes.fromhex(
        "20CE"  # history channel
        "00E1F565"  # device clock 1710612736
        "00"  # record type 0: period counts only
        "0B00"  # period in 11
        "0400"  # period out 4
        "20CE"  # history channel
        "10E1F565"  # device clock 1710612752
        "01"  # record type 1: period counts and totals
        "0700"  # period in 7
        "0200"  # period out 2
        "1D00"  # total in 29
        "0800"  # total out 8
        "04CC"  # total in/out channel
        "1E00"  # total in 30
        "0900"  # total out 9
    )
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == [{"total_in": 30, "total_out": 9}]


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
