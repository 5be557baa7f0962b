"""Native payloads are taken as sent: a number is a JSON number, a time RFC 3339 or epoch."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.formats import native
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.message import Message
from gateway.wire.topics import Topics
from tests.conftest import DECODER_EXAMPLES

TOPICS = Topics("luciole", "t")
NUMBER_FIELDS = {
    "pedestrian": ("count", "period_s", "seq", "ts"),
    "bin": ("distance_mm", "fill_ratio", "temperature_c", "seq", "ts"),
    "water": ("total_m3", "flow_m3h", "seq", "ts"),
}


def _decode(kind: str, body: object) -> Decoded:
    message = Message(f"luciole/t/sensor/{kind}/d1", json.dumps(body).encode(), 1.0, None, TOPICS)
    (decoded,) = native.decode(message)
    return decoded


WHOLE, NUMBER, BOOLEAN = (
    "must be a whole JSON number",
    "must be a JSON number",
    "must be true or false",
)
NOT_RFC3339 = "ts: expected an RFC 3339 time with an offset"


@pytest.mark.parametrize(
    ("kind", "body", "detail"),
    [
        ("pedestrian", {"count": "90015"}, f'count: {WHOLE}, not the string "90015"'),
        ("pedestrian", {"count": True}, f"count: {WHOLE}, not true"),
        ("pedestrian", {"count": 2.5}, f"count: {WHOLE}, not 2.5"),
        ("water", {"total_m3": "1000016.25"}, f'total_m3: {NUMBER}, not the string "1000016.25"'),
        ("water", {"total_m3": 1, "seq": "7"}, f'seq: {WHOLE}, not the string "7"'),
        ("bin", {"tilt": "true"}, f'tilt: {BOOLEAN}, not the string "true"'),
        ("bin", {"tilt": 1}, f"tilt: {BOOLEAN}, not 1"),
        ("pedestrian", {"count": 1, "ts": "20261201"}, NOT_RFC3339),
        ("pedestrian", {"count": 1, "ts": "2026-12-01"}, NOT_RFC3339),
        ("pedestrian", {"count": 1, "ts": "2026-12-01T10:00:00"}, NOT_RFC3339),
        ("pedestrian", {"count": 1, "ts": True}, "ts: expected an RFC 3339 time or epoch seconds"),
        ("pedestrian", {"count": 1, "ts": "2026-02-30T10:00:00Z"}, "ts: day is out of range"),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_a_clear_reason(
    kind: str, body: dict[str, object], detail: str
) -> None:
    """Strings and booleans are not numbers, digits are not a time: each refusal says so."""
    with pytest.raises(DecodeError) as refused:
        _decode(kind, body)
    assert refused.value.reason == "invalid"
    assert refused.value.detail.startswith(detail), refused.value.detail


def test_whole_numbers_written_with_a_decimal_point_are_integers() -> None:
    """`5.0` walkers are 5, and `seq: 3.0` makes the same dedup key as `seq: 3`."""
    decoded = _decode("pedestrian", {"count": 5.0, "seq": 3.0})
    assert (decoded.values["count"], decoded.dedup_key) == (5, "d1:3")
    assert type(decoded.values["count"]) is int


def test_times_in_rfc_3339_and_epoch_forms() -> None:
    """Z, an offset, a lowercase t, a leap second, epoch seconds and milliseconds: one instant."""
    instant = 1_795_381_445.0  # 2026-11-22T21:04:05Z
    forms = [
        "2026-11-22T21:04:05Z",
        "2026-11-22T22:04:05+01:00",
        "2026-11-22t21:04:05z",
        "2026-11-22 21:04:05.000000000Z",
        instant,
        int(instant * 1000),
    ]
    assert {_decode("water", {"total_m3": 1, "ts": ts}).ts_s for ts in forms} == {instant}
    assert _decode("water", {"total_m3": 1, "ts": "2016-12-31T23:59:60Z"}).ts_s == 1483228800.0


def test_valid_payloads_never_take_the_careful_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strictness costs the hot path nothing more: valid payloads are read straight from bytes."""

    def slow(*_: object) -> None:
        raise AssertionError("a valid payload went the careful way")

    monkeypatch.setattr(native, "careful", slow)
    _decode("pedestrian", {"count": 2, "period_s": 30, "seq": 9, "ts": "2026-11-22T21:04:05Z"})
    _decode("water", {"total_m3": 12.5, "flow_m3h": 0, "alarms": ["leak"], "ts": 1.7e12})
    _decode("bin", {"distance_mm": 830, "temperature_c": -2, "tilt": False, "seq": 3})


ANY = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="0123456789.-eTZ:", max_size=12)
    | st.sampled_from(["90015", "true", "1.5", "2026-11-22T21:04:05Z", "20261201"])
)


@settings(max_examples=DECODER_EXAMPLES, deadline=None)
@given(
    st.sampled_from(sorted(NUMBER_FIELDS)),
    st.dictionaries(st.sampled_from(["count", "total_m3", "distance_mm", "seq", "ts"]), ANY),
)
def test_no_string_or_boolean_is_ever_taken_for_a_number(
    kind: str, body: dict[str, object]
) -> None:
    """Whatever the values: a string or boolean in a number field means a refusal; an
    accepted payload's values are numbers, as sent (a time string only as `ts`)."""
    try:
        decoded = _decode(kind, body)
    except DecodeError:
        return
    for key in NUMBER_FIELDS[kind]:
        value = body.get(key)
        assert not isinstance(value, bool)
        assert not isinstance(value, str) or key == "ts"
    for key, value in decoded.values.items():
        assert type(value) in (int, float), (key, value)
        assert value == body.get(key, value)
