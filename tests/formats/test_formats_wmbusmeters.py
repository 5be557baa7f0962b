"""wmbusmeters telegrams: the meter index, flow, and status flags onto our alarm vocabulary."""

import json

import pytest

from gateway.formats import wmbusmeters
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.message import Message


def _decode(**fields: object) -> Decoded:
    telegram: dict[str, object] = {
        "_": "telegram",
        "media": "water",
        "id": "33225544",
        "total_m3": 1.5,
    }
    telegram.update(fields)
    (got,) = wmbusmeters.decode(Message("wmbusmeters/x", json.dumps(telegram).encode(), 0.0))
    return got


def _reason(**fields: object) -> str:
    with pytest.raises(DecodeError) as refused:
        _decode(**fields)
    return refused.value.reason


@pytest.mark.parametrize(
    ("status", "alarms"),
    [
        ("OK", []),
        ("", []),
        ("DRY", ["dry"]),
        ("REVERSE", ["backflow"]),
        ("LEAK BURST", ["burst", "leak"]),
        ("TAMPER", ["tamper"]),
        ("MANIPULATION", ["tamper"]),
        ("LOW_BATTERY", ["low_battery"]),
        ("PERMANENT_ERROR", ["meter_error"]),
        ("FLOW_ABOVE_Q4", ["overflow"]),
        ("LOW_ABIENT_TEMPERATURE", ["frost"]),
        ("ALARM LEAK_FLOW_HIGH LEAK_FLOW_LOW", ["leak"]),
        ("leak,burst", ["burst", "leak"]),
        ("METER_BLOCKED UNDERFLOW", ["meter_error"]),
        ("LEAKAGE_OR_NO_USAGE POWER_LOW", ["leak", "low_battery"]),
        ("DRY HIGH_TEMPERATURE NO_FLOW_PREV_MONTH", ["dry"]),
        ("NO_FLOW NO_FLOW_THIS_MONTH TAMPER_PREV_MONTH", []),
        ("PREV_LEAKAGE", []),
        ("PERMANENT_ERROR P_LEAK P_REVERSE_FLOW UNKNOWN_E0", ["meter_error"]),
        ("ERROR_FLAGS_800", ["meter_error"]),
        ("STATUS_1BBF80", ["meter_error"]),
        ("SOMETHING_NEW NO_CONSUMPTION", ["other:SOMETHING_NEW"]),
        ("SUBMARINE", ["other:SUBMARINE"]),
        ("ALARM", ["other:ALARM"]),
    ],
)
def test_status_words_become_alarms(status: str, alarms: list[str]) -> None:
    """Current words map to the vocabulary; past ones and states raise none; a bit wmbusmeters
    cannot name is a meter error; a word we do not know is kept as other:<WORD>."""
    assert _decode(status=status).values["alarms"] == alarms


def test_deprecated_copies_are_read_only_without_status() -> None:
    """current_status and error_flags repeat status; alone (older drivers) they are read."""
    assert _decode(status="OK", current_status="DRY LEAK").values["alarms"] == []
    assert _decode(current_status="DRY LEAK").values["alarms"] == ["dry", "leak"]
    assert _decode(status="OK", error_flags="SABOTAGE").values["alarms"] == []


@pytest.mark.parametrize(
    ("fields", "alarms"),
    [
        (
            {"current_alarms": "meter_blocked,underflow", "previous_alarms": "no_alarm"},
            ["meter_error"],
        ),
        ({"current_alarms": "no_alarm", "previous_alarms": "leakage"}, []),
        ({"fraud_type": "MAGNETIC_FRAUD_ATTEMPT"}, ["tamper"]),
        ({"fraud_type": "NO_TYPE_INFO", "status": "OK"}, []),
        ({"historic_status": "MINIMUM_FLOW"}, None),
    ],
)
def test_driver_alarm_fields(fields: dict[str, object], alarms: list[str] | None) -> None:
    """izar's current_alarms and hydrodigit's fraud_type are read; past alarms are not."""
    assert _decode(**fields).values.get("alarms") == alarms


def test_negative_flow_keeps_the_index_and_its_sign() -> None:
    """hydrus's -0.002 m³/h is water running backwards: index and signed flow, no alarm."""
    got = _decode(flow_m3h=-0.002, total_m3=296.789, status="OK")
    assert dict(got.values) == {"total_m3": 296.789, "flow_m3h": -0.002, "alarms": []}


def test_no_status_field_means_no_alarms_key() -> None:
    """A telegram without status says nothing about alarms, so `alarms` is absent."""
    assert "alarms" not in _decode().values
    assert "alarms" not in _decode(status=None).values


def test_flow_is_the_current_flow_not_the_maximum() -> None:
    """flow_m3h is preferred, then volume_flow_m3h; max_flow_m3h is not a flow reading."""
    assert _decode(max_flow_m3h=2.0).values == {"total_m3": 1.5}
    assert _decode(volume_flow_m3h=0.3).values["flow_m3h"] == 0.3
    assert _decode(volume_flow_m3h=0.3, flow_m3h=0.1).values["flow_m3h"] == 0.1


def test_timestamp_and_id_make_the_time_and_network_id() -> None:
    """The test-suite timestamp 1111-11-11T11:11:11Z is valid; no timestamp means no time."""
    got = _decode(timestamp="1111-11-11T11:11:11Z")
    assert (got.network_id, got.ts_s, got.dedup_key) == ("33225544", -27080311729.0, None)
    assert _decode().ts_s is None


def test_any_kind_of_water_is_water() -> None:
    """Cold, warm and hot water meters, or no media at all, are water meters."""
    for media in ("cold water", "warm water", "Hot water", None):
        assert _decode(media=media).kind == "water"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"media": "gas"}, "unsupported_media"),
        ({"total_m3": None}, "no_readings"),
        ({"total_m3": "1.5"}, "invalid"),
        ({"total_m3": -1}, "invalid"),
        ({"id": None}, "invalid"),
        ({"id": 33225544}, "invalid"),
        ({"status": ["LEAK"]}, "invalid"),
        ({"timestamp": "2024-03-03 18:37"}, "invalid"),
        ({"flow_m3h": "fast"}, "invalid"),
    ],
)
def test_refusals(fields: dict[str, object], reason: str) -> None:
    """Other media, no index, and fields of the wrong type are refused with reasons."""
    assert _reason(**fields) == reason
