"""The shared helpers: bounded strict JSON, RFC 3339, base64, devEUIs and the value checks."""

import subprocess
import sys
from collections.abc import Callable

import pytest

from gateway.formats import FORMATS
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import (
    MAX_PAYLOAD_BYTES,
    b64_bytes,
    eui_hex,
    json_object,
    make_decoded,
    parse_json,
    rfc3339_s,
)
from gateway.wire.payloads import Kind


def _reason(call: Callable[..., object], *args: object) -> str:
    with pytest.raises(DecodeError) as refused:
        call(*args)
    return refused.value.reason


def test_formats_table_names_the_five_formats() -> None:
    """FORMATS is the explicit table of the five wire formats."""
    assert set(FORMATS) == {"native", "chirpstack", "tts", "senml", "wmbusmeters"}


def test_payload_limit_is_64_kib() -> None:
    """64 KiB is accepted; one byte more is too_large."""
    body = b'{"a":"' + b"x" * (MAX_PAYLOAD_BYTES - 8) + b'"}'
    assert len(body) == MAX_PAYLOAD_BYTES
    assert json_object(body) == {"a": "x" * (MAX_PAYLOAD_BYTES - 8)}
    assert _reason(parse_json, body + b" ") == "too_large"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"a": "\xff"}', "not_utf8"),
        (b'{"a": NaN}', "bad_json"),
        (b'{"a": Infinity}', "bad_json"),
        (b'{"a": 1e999}', "bad_json"),
        (b'{"a": ' + b"9" * 41 + b"}", "bad_json"),
        (b"[" * 60_000, "bad_json"),
        (b'{"a": 1,}', "bad_json"),
        (b"", "bad_json"),
    ],
)
def test_bad_json_is_refused_with_its_reason(payload: bytes, reason: str) -> None:
    """Non-UTF-8, NaN, infinities, huge numbers, deep nesting and syntax errors are refused."""
    assert _reason(parse_json, payload) == reason


def test_json_object_refuses_other_values_and_accepts_a_bom() -> None:
    """An envelope must be an object; a UTF-8 byte order mark is tolerated."""
    assert _reason(json_object, b"[1]") == "bad_json"
    assert json_object(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    ("text", "epoch_s"),
    [
        ("2022-07-18T09:34:15.775023242+00:00", 1658136855.775023),
        ("2020-02-12T15:15:46.014773143Z", 1581520546.014773),
        ("2024-03-03T19:37:00+01:00", 1709491020.0),
        ("2024-03-03t18:37:00z", 1709491020.0),
        ("2024-03-03 18:37:00Z", 1709491020.0),
        ("2016-12-31T23:59:60Z", 1483228800.0),
        ("1111-11-11T11:11:11Z", -27080311729.0),
    ],
)
def test_rfc3339_times_parse(text: str, epoch_s: float) -> None:
    """Nanoseconds, offsets, lower case, a space, a leap second and year 1111 all parse."""
    assert rfc3339_s(text, "time") == pytest.approx(epoch_s, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    ["2024-03-03T18:37:00", "2024-02-30T00:00:00Z", "2024-03-03T18:37:00+24:00", "yesterday", 5],
)
def test_times_that_are_not_rfc3339_are_invalid(text: object) -> None:
    """No offset, an impossible date or offset, free text or a number: invalid."""
    assert _reason(rfc3339_s, text, "time") == "invalid"


def test_base64_accepts_both_alphabets_with_or_without_padding() -> None:
    """Proto3 JSON readers accept standard and URL-safe base64, padded or not."""
    assert b64_bytes("qg==", "data") == b"\xaa"
    assert b64_bytes("qg", "data") == b"\xaa"
    assert b64_bytes("-_8", "data") == b"\xfb\xff"
    assert b64_bytes("", "data") == b""


@pytest.mark.parametrize(
    ("value", "reason"), [("...", "bad_base64"), ("qé==", "bad_base64"), (3, "invalid")]
)
def test_bad_base64_is_refused(value: object, reason: str) -> None:
    """The docs' "..." placeholder and non-ASCII text are bad_base64; a number is invalid."""
    assert _reason(b64_bytes, value, "data") == reason


def test_deveui_from_hex_or_base64() -> None:
    """devEUIs come out as 16 lowercase hex digits from hex text or 8 bytes of base64."""
    assert eui_hex("0004A30B001C0530", "eui") == "0004a30b001c0530"
    assert eui_hex("EAAAAAAAAAE=", "eui") == "1000000000000001"
    for bad in ("0004A30B001C053", "EAAAAAAAAA==", "zz04A30B001C0530", None, 1):
        assert _reason(eui_hex, bad, "eui") == "invalid"


def _decoded(kind: Kind, values: object) -> Decoded:
    return make_decoded("n", kind, 1.0, values, dedup_key=None, source="t", reason="invalid")


@pytest.mark.parametrize(
    "values",
    [
        {"count": 1, "speed": 2},
        {"count": -1},
        {"count": 1.5},
        {"count": True},
        {"count": float("nan")},
        {"total_in": 1, "direction": "left"},
    ],
)
def test_values_outside_the_vocabulary_or_types_are_refused(values: object) -> None:
    """Unknown names, negative or fractional counts, booleans as numbers, NaN: refused."""
    assert _reason(_decoded, "pedestrian", values) == "invalid"


def test_alarms_must_come_from_the_vocabulary_and_are_sorted() -> None:
    """Alarms are checked against ALARMS[kind] and stored sorted without repeats."""
    assert _reason(_decoded, "water", {"total_m3": 1, "alarms": ["flood"]}) == "invalid"
    got = _decoded("water", {"total_m3": 1, "alarms": ("leak", "dry", "leak")})
    assert got.values["alarms"] == ["dry", "leak"]


def test_a_reading_without_its_key_value_has_no_readings() -> None:
    """A water reading without total_m3, or a walker reading without a count, says nothing."""
    assert _reason(_decoded, "water", {"flow_m3h": 1.0}) == "no_readings"
    assert _reason(_decoded, "pedestrian", {"period_s": 60}) == "no_readings"


def test_whole_float_counts_become_ints_and_temperatures_may_be_negative() -> None:
    """3.0 walkers is 3; a bin at -5 °C is fine."""
    assert _decoded("pedestrian", {"count": 3.0}).values == {"count": 3}
    assert _decoded("bin", {"temperature_c": -5}).values == {"temperature_c": -5}


@pytest.mark.parametrize("first", ["gateway.codecs", "gateway.formats", "gateway.formats.base"])
def test_codecs_and_formats_import_in_any_order(first: str) -> None:
    """The formats use the codecs and the codecs only the wire contract: any order imports."""
    code = f"import {first}; import gateway.codecs; import gateway.formats; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr
