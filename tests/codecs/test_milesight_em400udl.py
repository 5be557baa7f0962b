"""Milesight EM400-UDL codec: real periodic uplinks, and alarm frames built from the layout."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_em400udl import CODEC

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "third_party"
MILESIGHT_FPORT = 85

# Alarm frame, written out from the documented layout (integers little-endian).
ALARM_FRAME = bytes.fromhex(
    "8367"  # temperature alarm channel
    "6702"  # 615 -> 61.5 °C
    "01"  # threshold alarm raised
    "8482"  # distance alarm channel
    "2602"  # 550 mm
    "01"  # threshold alarm raised
)
ALARM_VALUES = {"temperature_c": 61.5, "distance_mm": 550, "alarms": ["fire", "full"]}


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _ours(vendor: dict[str, Any]) -> dict[str, object]:
    """The vendor's decoded names (battery, temperature, distance, position) in ours."""
    tilted = vendor["position"] == "tilt"
    return {
        "battery_pct": vendor["battery"],
        "temperature_c": vendor["temperature"],
        "distance_mm": vendor["distance"],
        "tilt": tilted,
        "alarms": ["tilt"] if tilted else [],
    }


def _values(readings: list[CodecReading]) -> list[dict[str, object]]:
    assert all(r.kind == "bin" and r.age_s == 0 for r in readings)
    return [dict(r.values) for r in readings]


def test_chirpstack_uplink_gives_thingsboard_values() -> None:
    """The ChirpStack uplink's bytes give ThingsBoard's battery, temperature, distance, tilt."""
    uplink = _fixture("chirpstack_v4_up_bin_ultrasonic_milesight_em400udl.json")
    expected = _fixture("expected_thingsboard_result_em400udl.json")["telemetry"][0]["values"]
    got = CODEC.decode_bytes(base64.b64decode(uplink["data"]), uplink["fPort"])
    assert _values(got) == [_ours(expected)]


def test_things_stack_uplink_gives_thingsboard_values() -> None:
    """The Things Stack uplink (same frame) gives the same values."""
    uplink = _fixture("ttn_v3_up_bin_ultrasonic_milesight_em400udl.json")["uplink_message"]
    expected = _fixture("expected_thingsboard_result_em400udl.json")["telemetry"][0]["values"]
    got = CODEC.decode_bytes(base64.b64decode(uplink["frm_payload"]), uplink["f_port"])
    assert _values(got) == [_ours(expected)]


def test_device_repository_example_bytes_and_object_agree() -> None:
    """The device repository's example bytes and object both give its values in our names."""
    example = _fixture("decoded_bin_ultrasonic_milesight_em400udl.json")
    data = bytes.fromhex(example["input"]["bytes_hex"])
    assert base64.b64decode(example["input"]["frm_payload_base64"]) == data
    from_bytes = CODEC.decode_bytes(data, example["input"]["fPort"])
    assert _values(from_bytes) == [_ours(example["output"]["data"])]
    assert CODEC.from_object(example["output"]["data"]) == from_bytes


def test_alarm_frame_maps_temperature_to_fire_and_distance_to_full() -> None:
    """Raised temperature and distance threshold alarms become "fire" and "full"."""
    assert _values(CODEC.decode_bytes(ALARM_FRAME, MILESIGHT_FPORT)) == [ALARM_VALUES]


def test_released_alarm_clears_it() -> None:
    """A released threshold alarm yields an empty alarm list, so the alarm clears."""
    data = bytes.fromhex(
        "8367"  # temperature alarm channel
        "2C01"  # 300 -> 30.0 °C
        "00"  # threshold alarm released
    )
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == [
        {"temperature_c": 30.0, "alarms": []}
    ]


def test_upright_bin_below_freezing() -> None:
    """Temperature is signed, and a normal position is tilt False with no alarm."""
    data = bytes.fromhex(
        "0367"  # temperature channel
        "C9FF"  # -55 -> -5.5 °C
        "0500"  # position channel
        "00"  # normal
    )
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == [
        {"temperature_c": -5.5, "tilt": False, "alarms": []}
    ]


def test_location_and_device_information_are_read_past() -> None:
    """NB-IoT location and device information are skipped; the distance after them is read."""
    data = bytes.fromhex(
        "FF0B"  # device status channel
        "FF"  # powered on
        "0688"  # location channel
        "00000000"  # longitude
        "00000000"  # latitude
        "22"  # geofence unset, motion moving
        "0482"  # distance channel
        "E803"  # 1000 mm
    )
    assert _values(CODEC.decode_bytes(data, MILESIGHT_FPORT)) == [{"distance_mm": 1000}]


@pytest.mark.parametrize(
    ("hex_bytes", "message"),
    [
        ("050002", "position 2"),  # position channel, value 2: undocumented
        ("017565", "battery 101 %"),  # battery channel, 101 %
        ("8482260205", "distance alarm status 5"),  # distance alarm, status 5: undocumented
        ("0482E8", "needs 2 bytes, 1 left"),  # distance channel cut short
        ("0582E803", "channel 0x05 type 0x82"),  # unknown channel type for id 5
    ],
)
def test_bad_frames_are_refused_with_the_reason(hex_bytes: str, message: str) -> None:
    """Values outside the documented ones, cut-short channels and unknown channels are refused."""
    with pytest.raises(CodecError, match=message):
        CODEC.decode_bytes(bytes.fromhex(hex_bytes), MILESIGHT_FPORT)


@pytest.mark.parametrize(
    "obj",
    [
        {
            "temperature": 61.5,
            "temperature_alarm": "threshold_alarm",
            "distance": 550,
            "distance_alarm": "threshold alarm",
        },
        {
            "temperature": 61.5,
            "temperature_abnormal": True,
            "distance": 550,
            "distance_alarming": True,
        },
    ],
)
def test_vendor_alarm_objects_read_like_the_alarm_frame(obj: dict[str, object]) -> None:
    """Both decoder generations' alarm fields (words or booleans) give the frame's alarms."""
    assert CODEC.from_object(obj) == CODEC.decode_bytes(ALARM_FRAME, MILESIGHT_FPORT)


@pytest.mark.parametrize(
    "obj",
    [
        {"position": "sideways"},
        {"battery": 150},
        {"distance": -1},
        {"temperature": "hot"},
        {"temperature": float("inf")},
        {"distance_alarm": "mutation_alarm"},
        {"distance_alarming": "yes"},
    ],
)
def test_bad_vendor_object_values_are_refused(obj: dict[str, object]) -> None:
    """Values outside the documented ones are refused, not guessed."""
    with pytest.raises(CodecError):
        CODEC.from_object(obj)


# TheThingsNetwork/lorawan-devices@vendor/milesight-iot/em310-udl-codec.yaml: the EM310-UDL
# example (battery 92 %, distance 2116 mm, tilted), and the object its older decoder made.
EM310_FRAME = bytes.fromhex(
    "0175"  # battery channel
    "5C"  # 92 %
    "0382"  # distance channel of the EM310-UDL
    "4408"  # 2116 mm
    "0400"  # position channel of the EM310-UDL
    "01"  # tilt
)
EM310_VALUES = {"battery_pct": 92, "distance_mm": 2116, "tilt": True, "alarms": ["tilt"]}


def test_em310_udl_frame_is_read_with_its_own_channel_ids() -> None:
    """The older model's distance (03 82) and position (04 00) channels give the same values."""
    assert _values(CODEC.decode_bytes(EM310_FRAME, MILESIGHT_FPORT)) == [EM310_VALUES]


def test_em310_udl_object_names_its_position_tilt() -> None:
    """The older decoder wrote `tilt: "tilt"` for the position: it keeps its tilt alarm."""
    obj = {"battery": 92, "distance": 2116, "tilt": "tilt"}
    assert CODEC.from_object(obj) == CODEC.decode_bytes(EM310_FRAME, MILESIGHT_FPORT)
    assert _values(CODEC.from_object({"distance": 900, "tilt": "normal"})) == [
        {"distance_mm": 900, "tilt": False, "alarms": []}
    ]


def test_describe_gives_the_vendor_names_even_without_a_bin_value() -> None:
    """A location-only frame makes no reading, but says where the unit is and how it moves."""
    data = bytes.fromhex("068836BF7701F000090722")  # the NB-IoT README example
    assert CODEC.decode_bytes(data, MILESIGHT_FPORT) == []
    assert CODEC.describe(data, MILESIGHT_FPORT) == {
        "longitude": 24.62495,
        "latitude": 118.030576,
        "motion_status": 0x22,
    }


def test_describe_reads_alarm_words_and_odd_values_without_refusing() -> None:
    """Alarm statuses become the vendor's words; an undocumented value is named, not refused."""
    assert CODEC.describe(ALARM_FRAME, MILESIGHT_FPORT) == {
        "temperature": 61.5,
        "temperature_alarm": "threshold_alarm",
        "distance": 550,
        "distance_alarm": "threshold_alarm",
    }
    assert CODEC.describe(bytes.fromhex("050002"), MILESIGHT_FPORT) == {"position": "unknown (2)"}
