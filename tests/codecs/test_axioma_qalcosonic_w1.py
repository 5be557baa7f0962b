"""Axioma Qalcosonic W1 codec: the device repository's enhanced 24-hour frame, and status."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.codecs.axioma_qalcosonic_w1 import CODEC
from gateway.codecs.base import CodecError, CodecReading

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "third_party"
AXIOMA_FPORT = 100
HOUR_S = 3600.0


def _example() -> Any:
    return json.loads(
        (FIXTURES / "decoded_water_meter_axioma_qalcosonic_w1.json").read_text(encoding="utf-8")
    )


def _example_bytes() -> bytes:
    return bytes.fromhex(_example()["input"]["bytes_hex"])


def _total_m3(reading: CodecReading) -> float:
    """The reading's meter index: a reading's values are untyped, this one is a float."""
    total = reading.values["total_m3"]
    assert isinstance(total, float), total
    return total


def _frame(status: int, log_volume_l: int, deltas_l: list[int], clock_s: int = 0) -> bytes:
    """An enhanced 24-hour frame written out from the documented layout."""
    packed = sum(delta << (14 * hour) for hour, delta in enumerate(deltas_l))  # 14 bits each
    return (
        bytes([0x01])  # frame version
        + clock_s.to_bytes(4, "little")  # meter clock, Unix seconds
        + bytes([status])  # status
        + log_volume_l.to_bytes(4, "little")  # log volume, litres
        + packed.to_bytes(41, "little")  # 23 deltas, then the 6-bit history multiplier (0)
    )


def test_frame_builder_reproduces_the_device_repository_bytes() -> None:
    """The test's frame builder, fed the example's decoded fields, rebuilds its exact bytes."""
    example = _example()
    out = example["output"]["data"]
    deltas_l = [round(out[f"delta_{hour}_m3"] * 1000) for hour in range(1, 24)]
    rebuilt = _frame(
        out["status"], round(out["log_volume_m3"] * 1000), deltas_l, out["timestamp_unix"]
    )
    assert rebuilt == _example_bytes()
    assert base64.b64decode(example["input"]["frm_payload_base64"]) == rebuilt


def test_example_frame_gives_current_index_and_23_back_dated_ones() -> None:
    """Current volume now, log volume 23 h back, log plus deltas hourly in between."""
    out = _example()["output"]["data"]
    got = CODEC.decode_bytes(_example_bytes(), AXIOMA_FPORT)
    assert len(got) == 24
    assert all(r.kind == "water" for r in got)
    assert [r.age_s for r in got] == [HOUR_S * (23 - hour) for hour in range(24)]
    assert got[0].values == {"total_m3": out["log_volume_m3"]}
    assert got[-1].values == {"total_m3": out["current_volume_m3"], "alarms": []}
    running_m3 = out["log_volume_m3"]
    for hour in range(1, 24):
        running_m3 += out[f"delta_{hour}_m3"]
        assert got[hour].values["total_m3"] == pytest.approx(running_m3, abs=1e-9)


def test_example_object_reads_like_its_bytes() -> None:
    """The device repository's decoded object gives exactly what its bytes give."""
    got = CODEC.from_object(_example()["output"]["data"])
    assert got == CODEC.decode_bytes(_example_bytes(), AXIOMA_FPORT)


def test_indexes_never_go_down_within_a_frame() -> None:
    """Readings come oldest first, so a meter index only grows through them."""
    totals = [_total_m3(r) for r in CODEC.decode_bytes(_example_bytes(), None)]
    assert totals == sorted(totals)


@given(
    status=st.sampled_from([0x00, 0x04, 0x08, 0x10, 0x30, 0x70, 0x90, 0xB0]),
    log_volume_l=st.integers(0, 2**32 - 1),
    deltas_l=st.lists(st.integers(0, 2**14 - 1), min_size=23, max_size=23),
)
def test_any_readable_frame_gives_24_hourly_indexes_oldest_first(
    status: int, log_volume_l: int, deltas_l: list[int]
) -> None:
    """Any readable frame gives 24 readings an hour apart, oldest first, never decreasing."""
    got = CODEC.decode_bytes(_frame(status, log_volume_l, deltas_l), AXIOMA_FPORT)
    assert [r.age_s for r in got] == [HOUR_S * (23 - hour) for hour in range(24)]
    totals = [_total_m3(r) for r in got]
    assert totals == sorted(totals)
    assert totals[0] == log_volume_l / 1000
    assert totals[-1] == (log_volume_l + sum(deltas_l)) / 1000


@pytest.mark.parametrize(
    ("status", "alarms"),
    [
        (0x00, []),  # no error
        (0x04, ["low_battery"]),  # low battery bit
        (0x08, ["meter_error"]),  # permanent error bit
        (0x10, ["dry"]),  # temporary error, no condition: pipe empty
        (0x14, ["dry", "low_battery"]),  # both at once
        (0x30, ["leak"]),  # temporary error + condition 0x20
        (0x70, ["backflow"]),  # temporary error + condition 0x60
        (0x90, ["frost"]),  # temporary error + condition 0x80
        (0xB0, ["burst"]),  # temporary error + condition 0xA0
    ],
)
def test_status_becomes_alarms_on_the_current_reading(status: int, alarms: list[str]) -> None:
    """Status bits map to the vocabulary, on the current reading only."""
    got = CODEC.decode_bytes(_frame(status, 1000, [1] * 23), AXIOMA_FPORT)
    assert got[-1].values == {"total_m3": 1.023, "alarms": alarms}
    assert all("alarms" not in r.values for r in got[:-1])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_frame(0x50, 1000, [0] * 23), "condition 0x40"),  # condition 0x40: undocumented
        (_frame(0, 1000, [0] * 23)[:50], "50 bytes"),  # one byte short
        (b"\x02" + _frame(0, 1000, [0] * 23)[1:], "frame version 0x02"),  # version 2
        (_frame(0, 1000, [0] * 23 + [1]), "history multiplier 1"),  # multiplier bits = 1
    ],
)
def test_frames_we_cannot_read_are_refused(data: bytes, message: str) -> None:
    """Unknown conditions, lengths, versions and a set history multiplier are refused."""
    with pytest.raises(CodecError, match=message):
        CODEC.decode_bytes(data, AXIOMA_FPORT)


def test_other_fports_are_refused_by_number() -> None:
    """Frames on other ports (alarm or parameter packets) are refused, naming the port."""
    with pytest.raises(CodecError, match="FPort 103"):
        CODEC.decode_bytes(_example_bytes(), 103)


def test_object_with_only_the_current_volume_gives_one_reading() -> None:
    """An object without the hourly log still gives the current index, with its alarms."""
    got = CODEC.from_object({"current_volume_m3": 12.5, "leakage": True, "burst": False})
    assert got == [CodecReading(kind="water", values={"total_m3": 12.5, "alarms": ["leak"]})]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"delta_5_m3": None}, "delta_5_m3 is missing"),
        ({"current_volume_m3": 7.0}, "not log_volume_m3 plus the hourly deltas"),
        ({"delta_1_m3": 16.384}, "delta_1_m3"),  # 16384 L does not fit 14 bits
        ({"log_volume_m3": -1}, "log_volume_m3"),
        ({"backflow": "no"}, "backflow"),
    ],
)
def test_inconsistent_objects_are_refused(change: dict[str, object], message: str) -> None:
    """Missing deltas, a current volume that does not add up, or bad values are refused."""
    obj = {**_example()["output"]["data"], **change}
    obj = {key: value for key, value in obj.items() if value is not None}
    with pytest.raises(CodecError, match=message):
        CODEC.from_object(obj)


def test_object_without_any_volume_is_refused() -> None:
    """An object with flags but no volume is refused: a water reading needs an index."""
    with pytest.raises(CodecError, match="no volume"):
        CODEC.from_object({"low_battery": True})


def test_describe_gives_the_vendor_fields_of_the_example_frame() -> None:
    """The example frame's clock, status, log volume and deltas, as the vendor's object has."""
    vendor = _example()["output"]["data"]
    got = CODEC.describe(_example_bytes(), AXIOMA_FPORT)
    assert (got["timestamp_unix"], got["status"]) == (vendor["timestamp_unix"], vendor["status"])
    assert got["log_volume_m3"] == vendor["log_volume_m3"]
    assert got["deltas_m3"] == [vendor[f"delta_{hour}_m3"] for hour in range(1, 24)]
    assert CODEC.describe(b"\x01\x02", AXIOMA_FPORT)["unreadable"] == "the 24-hour frame has 51"
