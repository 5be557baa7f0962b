"""Milesight VS133 codec: real uplinks against ThingsBoard's and the device repository's decodes."""

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_vs133 import CODEC

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "third_party"
MILESIGHT_FPORT = 85


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _thingsboard_lines() -> list[dict[str, object]]:
    """Totals per line, in line order, from ThingsBoard's `line_N.0_total_in` telemetry keys."""
    telemetry = _fixture("expected_thingsboard_result_vs133.json")["telemetry"][0]["values"]
    lines: dict[int, dict[str, object]] = {}
    for key, value in telemetry.items():
        match = re.fullmatch(r"line_(\d)\.0_(total_in|total_out)", key)
        assert match, key
        lines.setdefault(int(match[1]), {"line": int(match[1])})[match[2]] = value
    return [lines[line] for line in sorted(lines)]


def _values(readings: list[CodecReading]) -> list[dict[str, object]]:
    assert all(r.kind == "pedestrian" and r.age_s == 0 for r in readings)
    return [dict(r.values) for r in readings]


def test_chirpstack_uplink_gives_thingsboard_totals_per_line() -> None:
    """The ChirpStack uplink's bytes decode to ThingsBoard's totals for lines 1-4."""
    uplink = _fixture("chirpstack_v4_up_people_counter_milesight_vs133.json")
    got = CODEC.decode_bytes(base64.b64decode(uplink["data"]), uplink["fPort"])
    assert _values(got) == _thingsboard_lines()


def test_things_stack_uplink_gives_thingsboard_totals_per_line() -> None:
    """The Things Stack uplink (same frame) decodes to the same totals."""
    uplink = _fixture("ttn_v3_up_people_counter_milesight_vs133.json")["uplink_message"]
    got = CODEC.decode_bytes(base64.b64decode(uplink["frm_payload"]), uplink["f_port"])
    assert _values(got) == _thingsboard_lines()


def test_device_repository_example_bytes_give_its_decoded_values() -> None:
    """The device repository's example bytes give its totals and period counts per line."""
    example = _fixture("decoded_people_counter_milesight_vs133.json")
    data = bytes.fromhex(example["input"]["bytes_hex"])
    assert base64.b64decode(example["input"]["frm_payload_base64"]) == data
    expected = [
        {
            "line": int(name.removeprefix("line_")),
            "total_in": line["total_in"],
            "total_out": line["total_out"],
            "count_in": line["period_in"],
            "count_out": line["period_out"],
        }
        for name, line in sorted(example["output"]["data"].items())
    ]
    assert _values(CODEC.decode_bytes(data, example["input"]["fPort"])) == expected


def test_vendor_object_reads_like_its_bytes() -> None:
    """The nested object The Things Stack's decoder made gives what its bytes give."""
    example = _fixture("decoded_people_counter_milesight_vs133.json")
    data = bytes.fromhex(example["input"]["bytes_hex"])
    assert CODEC.from_object(example["output"]["data"]) == CODEC.decode_bytes(data, None)


def test_flat_vendor_object_names_are_read() -> None:
    """Milesight's own decoder writes `line_4_period_in`; that form is read too."""
    obj = {"line_4_period_in": 5, "line_4_period_out": 7, "region_1_count": 2}
    assert _values(CODEC.from_object(obj)) == [{"line": 4, "count_in": 5, "count_out": 7}]


def test_region_and_dwell_channels_are_read_past() -> None:
    """Region occupancy and dwell time are skipped; the line counts after them are read."""
    data = bytes.fromhex(
        "0FE3"  # region count channel
        "02100709"  # regions 1-4: 2, 16, 7, 9 people
        "10E4"  # dwell time channel
        "01"  # region 1
        "0900"  # average dwell 9
        "1100"  # maximum dwell 17
        "0ECC"  # line 4 period in/out channel
        "0500"  # period in 5
        "0700"  # period out 7
    )
    expected = [{"line": 4, "count_in": 5, "count_out": 7}]
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == expected


def test_frame_with_only_region_counts_gives_no_reading() -> None:
    """A valid frame with nothing about walkers passing yields no reading, not an error."""
    data = bytes.fromhex("0FE300000000")  # region count channel, all four regions empty
    assert CODEC.decode_bytes(data, MILESIGHT_FPORT) == []


def test_unknown_channel_is_refused_by_name() -> None:
    """A channel the VS133 layout does not have is refused, naming its id and type."""
    data = bytes.fromhex(
        "03D2"  # line 1 total in channel
        "48000000"  # 72
        "FF0B"  # device status channel: not in the VS133's documented layout
        "FF"
    )
    with pytest.raises(CodecError, match="channel 0xff type 0x0b at byte 6"):
        CODEC.decode_bytes(data, MILESIGHT_FPORT)


@pytest.mark.parametrize(
    ("hex_bytes", "message"),
    [
        ("", "empty payload"),
        ("03", "inside the channel header"),
        ("03D24800", "needs 4 bytes, 2 left"),  # line 1 total in, cut after 2 of 4 bytes
    ],
)
def test_short_frames_are_refused(hex_bytes: str, message: str) -> None:
    """Empty or cut-short frames are refused with what was missing."""
    with pytest.raises(CodecError, match=message):
        CODEC.decode_bytes(bytes.fromhex(hex_bytes), MILESIGHT_FPORT)


@pytest.mark.parametrize(
    "obj",
    [
        {"line_1": {"total_in": "72"}},
        {"line_1": {"total_in": -1}},
        {"line_1": {"total_in": 2**32}},
        {"line_1": {"period_in": 2**16}},
        {"line_1": {"total_in": True}},
        {"line_1": {"total_in": 1.5}},
        {"line_1": [72, 200]},
        {"line_2_total_out": float("nan")},
    ],
)
def test_bad_vendor_object_values_are_refused(obj: dict[str, object]) -> None:
    """Counters that are not whole numbers within the device's field width are refused."""
    with pytest.raises(CodecError, match="line_"):
        CODEC.from_object(obj)


def test_describe_names_region_and_dwell_values_that_make_no_reading() -> None:
    """Milesight-IoT/SensorDecoders@vs-series/vs133/README.md's region and dwell examples."""
    regions = bytes.fromhex("0FE302100709")  # regions 1-4: 2, 16, 7, 9 people
    dwell = bytes.fromhex("10E40109101121")  # region 1: average 4105, maximum 8465
    assert CODEC.decode_bytes(regions + dwell, MILESIGHT_FPORT) == []
    assert CODEC.describe(regions + dwell, MILESIGHT_FPORT) == {
        "region_1_count": 2,
        "region_2_count": 16,
        "region_3_count": 7,
        "region_4_count": 9,
        "region_1_avg_dwell": 4105,
        "region_1_max_dwell": 8465,
    }


def test_describe_uses_the_flat_names_the_object_reader_takes() -> None:
    """A frame's description, read back as a vendor object, gives the frame's readings."""
    data = bytes.fromhex("03D24800000004D2C80000000ECC05000700")
    described = CODEC.describe(data, MILESIGHT_FPORT)
    assert described == {
        "line_1_total_in": 72,
        "line_1_total_out": 200,
        "line_4_period_in": 5,
        "line_4_period_out": 7,
    }
    assert CODEC.from_object(described) == CODEC.decode_bytes(data, MILESIGHT_FPORT)


def test_describe_says_where_a_frame_stops_being_readable() -> None:
    """What was read before an unknown channel is kept, and why reading stopped is said."""
    data = bytes.fromhex("03D248000000FF0BFF")
    assert CODEC.describe(data, MILESIGHT_FPORT) == {
        "line_1_total_in": 72,
        "unreadable": "unknown channel 0xff type 0x0b at byte 6",
    }
    assert CODEC.describe(b"", MILESIGHT_FPORT) == {"unreadable": "empty payload"}
