"""SenML (RFC 8428): base-field resolution, relative times, extensibility rules, our mapping."""

import json

import pytest

from gateway.formats import senml
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.message import Message

NOW_S = 1_714_590_000.0
DEV = "urn:dev:mac:0024befffe804ff1"


def _decode(*records: dict[str, object], now_s: float = NOW_S) -> list[Decoded]:
    return senml.decode_pack(json.dumps(list(records)).encode(), now_s)


def _reason(*records: object) -> str:
    with pytest.raises(DecodeError) as refused:
        senml.decode_pack(json.dumps(list(records)).encode(), NOW_S)
    return refused.value.reason


def _brief(decoded: list[Decoded]) -> list[tuple[str, str, float | None, dict[str, object]]]:
    return [(d.network_id, d.kind, d.ts_s, dict(d.values)) for d in decoded]


def test_base_fields_apply_until_the_next_record_with_the_same_field() -> None:
    """RFC 8428 §5.1.6: a new bn changes the name, while the first bt still applies."""
    got = _decode(
        {"bn": "2001:db8::2/", "bt": 1.320078429e9, "n": "count", "u": "count", "v": 4},
        {"n": "distance", "u": "mm", "v": 30},
        {"bn": "2001:db8::1/", "n": "count", "u": "count", "v": 5},
    )
    assert _brief(got) == [
        ("2001:db8::2", "pedestrian", 1.320078429e9, {"count": 4}),
        ("2001:db8::2", "bin", 1.320078429e9, {"distance_mm": 30}),
        ("2001:db8::1", "pedestrian", 1.320078429e9, {"count": 5}),
    ]


@pytest.mark.parametrize(
    ("bt", "t", "ts_s"),
    [
        (None, None, NOW_S),
        (None, -5, NOW_S - 5),
        (None, 10, NOW_S + 10),
        (-100, 40, NOW_S - 60),
        (1.7e9, -5, 1.7e9 - 5),
        (2**28 - 10, 10, 2**28),
    ],
)
def test_times_below_2_pow_28_are_relative_to_now(
    bt: float | None, t: float | None, ts_s: float
) -> None:
    """bt + t is resolved first; below 2**28 it counts from now (§4.5.3), else from the epoch."""
    record: dict[str, object] = {"n": f"{DEV}:count", "v": 1}
    record |= {} if bt is None else {"bt": bt}
    record |= {} if t is None else {"t": t}
    (got,) = _decode(record)
    assert got.ts_s == pytest.approx(ts_s)


def test_decode_counts_relative_times_from_arrival() -> None:
    """The Message decoder uses the receive time as SenML's "now"."""
    message = Message(
        "senml/x", json.dumps([{"n": f"{DEV}:count", "v": 1, "t": -3}]).encode(), NOW_S
    )
    (got,) = senml.decode(message)
    assert got.ts_s == NOW_S - 3


def test_base_value_is_added_and_base_unit_applies_without_a_unit() -> None:
    """v = bv + v (§4.5.4); bu is the unit unless the record has its own (§4.5.2)."""
    got = _decode(
        {"bn": f"{DEV}:", "bt": 1.7e9, "bu": "mm", "bv": 1000, "n": "distance", "v": 5},
        {"n": "distance", "t": 60, "v": -3},
        {"bv": 0, "n": "fill", "u": "%", "v": 40},
    )
    assert _brief(got) == [
        (DEV, "bin", 1.7e9, {"distance_mm": 1005, "fill_ratio": 0.4}),
        (DEV, "bin", 1.7e9 + 60, {"distance_mm": 997}),
    ]


def test_name_without_bn_splits_at_its_last_separator() -> None:
    """Without bn the resolved name `<device>/<measurement>` still addresses the device."""
    (got,) = _decode({"n": "district-3/bins/b12/distance", "u": "m", "v": 0.5, "t": 0})
    assert (got.network_id, dict(got.values)) == ("district-3/bins/b12", {"distance_mm": 500})


def test_unknown_fields_are_ignored_but_must_understand_fields_refuse_the_pack() -> None:
    """§4.4: `foo` is ignored; `foo_` (or any label ending in _) refuses the whole pack."""
    assert _decode({"n": f"{DEV}:count", "v": 1, "foo": [1]})[0].values == {"count": 1}
    assert (
        _reason({"n": f"{DEV}:count", "v": 1}, {"n": f"{DEV}:count", "v": 2, "foo_": 1})
        == "unsupported"
    )


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([{"bver": 11, "n": f"{DEV}:count", "v": 1}], "unsupported"),
        (
            [{"bver": 10, "n": f"{DEV}:count", "v": 1}, {"bver": 9, "n": f"{DEV}:count", "v": 1}],
            "invalid",
        ),
        ([{"n": f"{DEV}:count", "v": 1}, {"bver": 9, "n": f"{DEV}:count", "v": 1}], "invalid"),
        ([{"bver": 2.5, "n": f"{DEV}:count", "v": 1}], "invalid"),
        ([{"bver": 0, "n": f"{DEV}:count", "v": 1}], "invalid"),
    ],
)
def test_versions(records: list[object], reason: str) -> None:
    """bver above 10 is unsupported; versions must agree and be positive integers."""
    assert _reason(*records) == reason


def test_an_older_version_alone_is_accepted() -> None:
    """bver 5 (RFC 8428 §5.1.2's own example) is a version we understand."""
    assert _decode({"bver": 5, "n": f"{DEV}:count", "v": 1})[0].values == {"count": 1}


@pytest.mark.parametrize(
    "record",
    [
        {"n": 5, "v": 1},
        {"n": f"{DEV}:count", "v": "1"},
        {"n": f"{DEV}:count", "v": True},
        {"n": f"{DEV}:tilt", "vb": "yes"},
        {"n": f"{DEV}:count", "v": 1, "vs": "one"},
        {"n": f"-{DEV}:count", "v": 1},
        {"n": f"{DEV}:c ount", "v": 1},
        {"v": 1},
        {"n": f"{DEV}:count", "u": "count", "v": -1},
        {"n": f"{DEV}:count", "u": "count", "v": 1.5},
        {"bt": 1e308, "n": f"{DEV}:count", "v": 1, "t": 1e308},
        "not a record",
    ],
)
def test_malformed_records_are_invalid(record: object) -> None:
    """Wrong types, two value fields, bad names, impossible counts, infinite time: invalid."""
    assert _reason(record) == "invalid"


def test_data_values_must_be_base64url() -> None:
    """vd is checked (§4.3) even though no measurement uses it."""
    assert _reason({"n": f"{DEV}:count", "v": 1}, {"n": f"{DEV}:blob", "vd": "a b"}) == "bad_base64"


def test_records_that_map_to_nothing_are_ignored() -> None:
    """Unknown measurements, unknown units and value types that do not fit are skipped."""
    got = _decode(
        {"bn": f"{DEV}:", "bt": 1.7e9, "n": "count", "v": 2},
        {"n": "distance", "u": "km", "v": 1},
        {"n": "distance", "vs": "far"},
        {"n": "voltage", "u": "V", "v": 3.6},
        {"n": "total", "v": 17},
    )
    assert _brief(got) == [(DEV, "pedestrian", 1.7e9, {"count": 2})]


def test_a_pack_that_maps_to_nothing_has_no_readings() -> None:
    """No mapped record at all, or an empty pack: no_readings."""
    assert _reason({"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}) == "no_readings"
    assert _reason() == "no_readings"


def test_base_only_records_carry_no_measurement() -> None:
    """RFC 8428 §5.1.7 starts with a record holding only bn: it sets the base, nothing else."""
    got = _decode({"bn": f"{DEV}:", "bt": 1.7e9}, {"n": "count", "v": 3})
    assert _brief(got) == [(DEV, "pedestrian", 1.7e9, {"count": 3})]


def test_the_same_value_twice_at_one_time_makes_two_readings() -> None:
    """Nothing is overwritten: a repeated measurement at one time starts another reading."""
    got = _decode({"bn": f"{DEV}:", "bt": 1.7e9, "n": "count", "v": 1}, {"n": "count", "v": 2})
    assert [dict(d.values) for d in got] == [{"count": 1}, {"count": 2}]


@pytest.mark.parametrize(
    ("name", "unit", "value", "key", "stored"),
    [
        ("count", "/", 3, "count", 3),
        ("count_in", "count", 3, "count_in", 3),
        ("total_out", None, 9, "total_out", 9),
        ("total", "count", 9, "total", 9),
        ("total", "l", 1500, "total_m3", 1.5),
        ("volume", "m3", 2.5, "total_m3", 2.5),
        ("distance", "m", 1.25, "distance_mm", 1250),
        ("fill", "/", 0.5, "fill_ratio", 0.5),
        ("temperature", "Cel", -4.5, "temperature_c", -4.5),
        ("temperature", "K", 273.15, "temperature_c", 0.0),
    ],
)
def test_measurement_table(
    name: str, unit: str | None, value: float, key: str, stored: float
) -> None:
    """Each (name, unit) of the mapping table stores the right key, converted."""
    record: dict[str, object] = {"bn": f"{DEV}:", "n": name, "v": value}
    record |= {} if unit is None else {"u": unit}
    companions = {
        "flow_m3h": {"n": "volume", "u": "m3", "v": 1},
        "temperature_c": {"n": "fill", "u": "/", "v": 0},
    }
    extra = [companions[key]] if key in companions else []
    (got,) = _decode(record, *extra)
    assert got.values[key] == pytest.approx(stored)


def test_flow_needs_the_meter_index_at_the_same_time() -> None:
    """A water reading is built on total_m3: flow alone maps to no reading."""
    assert _reason({"n": f"{DEV}:flow", "u": "l/s", "v": 1}) == "no_readings"
    (got,) = _decode(
        {"bn": f"{DEV}:", "n": "flow", "u": "m3/s", "v": 0.001}, {"n": "volume", "u": "m3", "v": 7}
    )
    assert dict(got.values) == {"flow_m3h": 3.6, "total_m3": 7}
