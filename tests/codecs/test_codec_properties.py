"""Every registered codec: any input gives readings in the kind's vocabulary or a CodecError."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codecs import CODECS, codec
from gateway.codecs.base import CodecError, CodecReading
from gateway.formats.base import ALARMS, VALUE_KEYS

CODEC_NAMES = sorted(CODECS)

# Random bytes rarely make a valid frame, so frames are also drawn from the vendors' tables:
# runs of documented Milesight channels (id, type, body size) with random bodies, and Axioma
# frames of the right length and version with the history multiplier left clear.
_MILESIGHT_CHANNELS = [
    *((0x03, 0xD2, 4), (0x04, 0xD2, 4), (0x05, 0xCC, 4), (0x0C, 0xD2, 4), (0x0E, 0xCC, 4)),
    *((0x0F, 0xE3, 4), (0x10, 0xE4, 5)),
    *((0x01, 0x75, 1), (0x03, 0x67, 2), (0x04, 0xCC, 4), (0x0A, 0xEF, 4), (0x83, 0x67, 3)),
    *((0x84, 0xCC, 5), (0x85, 0xCC, 5), (0x20, 0xCE, 9), (0x20, 0xCE, 13)),
    *((0x04, 0x82, 2), (0x05, 0x00, 1), (0x06, 0x88, 9), (0x84, 0x82, 3)),
    *((0x03, 0x82, 2), (0x04, 0x00, 1)),
    *((0xFF, 0x0B, 1), (0xFF, 0x16, 8)),
]
_CHANNEL = st.sampled_from(_MILESIGHT_CHANNELS).flatmap(
    lambda spec: st.binary(min_size=spec[2], max_size=spec[2]).map(
        lambda body: bytes(spec[:2]) + body
    )
)
# VS350 history records of either documented type, with a random time and counters.
_HISTORY = st.tuples(st.binary(min_size=4, max_size=4), st.sampled_from([0, 1])).flatmap(
    lambda head: st.binary(min_size=4 + 4 * head[1], max_size=4 + 4 * head[1]).map(
        lambda counters: b"\x20\xce" + head[0] + bytes([head[1]]) + counters
    )
)
_CHANNEL = _CHANNEL | _HISTORY
_AXIOMA = st.tuples(st.binary(min_size=49, max_size=49), st.integers(0, 3)).map(
    lambda parts: b"\x01" + parts[0] + bytes([parts[1]])
)
PAYLOADS = st.one_of(
    st.binary(max_size=80),
    st.lists(_CHANNEL, min_size=1, max_size=6).map(b"".join),
    st.tuples(st.lists(_CHANNEL, max_size=4).map(b"".join), st.binary(max_size=6)).map(b"".join),
    _AXIOMA,
)
FPORTS = st.none() | st.integers(min_value=-1, max_value=256) | st.sampled_from([85, 100])

# Vendor field names the codecs read, so that arbitrary objects reach their code.
_FIELD_NAMES = [
    *(f"line_{n}_{f}" for n in (1, 4) for f in ("total_in", "total_out", "period_in")),
    *("total_in", "total_out", "period_in", "period_out"),
    *("battery", "temperature", "distance", "position", "temperature_alarm", "distance_alarm"),
    *("temperature_abnormal", "distance_alarming", "log_volume_m3", "current_volume_m3"),
    *("low_battery", "permanent_error", "pipe_empty", "leakage", "backflow", "burst"),
]
_WORDS = ["normal", "tilt", "threshold_alarm", "threshold alarm release", "unknown"]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(_WORDS)
)
# Values of the right shape and near the right range, so that many objects are readable.
_PLAUSIBLE = (
    st.none()
    | st.booleans()
    | st.integers(-2, 70_000)
    | st.floats(-50, 5_000)
    | st.sampled_from(_WORDS)
)
_LINE = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(("total_in", "total_out", "period_in", "period_out"), _PLAUSIBLE)
)
_HOURLY_LOG = st.fixed_dictionaries(
    {
        "log_volume_m3": st.integers(0, 10**6).map(lambda litres: litres / 1000),
        **{
            f"delta_{n}_m3": st.integers(0, 2**14 - 1).map(lambda litres: litres / 1000)
            for n in range(1, 24)
        },
    }
)
_KEYS = st.sampled_from(_FIELD_NAMES) | st.text(max_size=10)
# One level of nesting is as deep as any codec reads (VS133's `line_N` objects).
_ARBITRARY = st.dictionaries(
    _KEYS,
    _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(_KEYS, _SCALARS, max_size=4),
    max_size=10,
)
_NEAR_VALID = st.tuples(
    st.dictionaries(st.sampled_from(_FIELD_NAMES), _PLAUSIBLE, max_size=8),
    st.dictionaries(st.sampled_from([f"line_{n}" for n in range(1, 5)]), _LINE, max_size=4),
    st.one_of(st.just({}), _HOURLY_LOG),
).map(lambda parts: {**parts[0], **parts[1], **parts[2]})
OBJECTS = _ARBITRARY | _NEAR_VALID


def _assert_in_vocabulary(name: str, readings: object) -> None:
    """Readings are CodecReadings of the codec's kind, with known value names and alarms."""
    kind = CODECS[name].kind
    assert isinstance(readings, list)
    for reading in readings:
        assert isinstance(reading, CodecReading)
        assert reading.kind == kind
        assert math.isfinite(reading.age_s) and reading.age_s >= 0
        assert reading.ts_s is None or (math.isfinite(reading.ts_s) and reading.ts_s >= 0)
        assert set(reading.values) <= VALUE_KEYS[kind]
        for key, value in reading.values.items():
            if key == "alarms":
                assert isinstance(value, list) and set(value) <= ALARMS[kind]
            elif key == "tilt":
                assert isinstance(value, bool)
            else:
                assert isinstance(value, int | float) and not isinstance(value, bool)
                assert math.isfinite(value)


@pytest.mark.parametrize("name", CODEC_NAMES)
@settings(max_examples=2000)
@given(data=PAYLOADS, fport=FPORTS)
def test_any_bytes_give_readings_or_a_codec_error(
    name: str, data: bytes, fport: int | None
) -> None:
    """Any bytes on any port: readings in the kind's vocabulary, or CodecError, nothing else."""
    try:
        readings = CODECS[name].decode_bytes(data, fport)
    except CodecError as error:
        assert error.detail
        return
    _assert_in_vocabulary(name, readings)


@pytest.mark.parametrize("name", CODEC_NAMES)
@settings(max_examples=2000)
@given(obj=OBJECTS)
def test_any_object_gives_readings_or_a_codec_error(name: str, obj: dict[str, object]) -> None:
    """Any JSON-like object: readings in the kind's vocabulary, or CodecError, nothing else."""
    try:
        readings = CODECS[name].from_object(obj)
    except CodecError as error:
        assert error.detail
        return
    _assert_in_vocabulary(name, readings)


@pytest.mark.parametrize("name", CODEC_NAMES)
@settings(max_examples=1000)
@given(data=PAYLOADS, fport=FPORTS)
def test_any_bytes_can_be_described(name: str, data: bytes, fport: int | None) -> None:
    """`describe` never refuses: any bytes give a JSON object saying what they hold."""
    described = CODECS[name].describe(data, fport)
    assert isinstance(described, dict)
    json.dumps(described, allow_nan=False)


@pytest.mark.parametrize("name", [n for n in CODEC_NAMES if n.startswith("milesight-")])
@settings(max_examples=1000)
@given(data=PAYLOADS)
def test_a_milesight_description_reads_back_as_the_frame(name: str, data: bytes) -> None:
    """A readable frame's description, read as the vendor's object, gives the same readings."""
    try:
        readings = CODECS[name].decode_bytes(data, 85)
    except CodecError:
        return
    assert CODECS[name].from_object(CODECS[name].describe(data, 85)) == readings


def test_table_is_keyed_by_each_codec_name() -> None:
    """Each codec is filed under its own name, and `codec()` finds it there."""
    assert set(CODECS) == {
        "milesight-vs133",
        "milesight-vs350",
        "milesight-em400udl",
        "axioma-qalcosonic-w1",
    }
    for name, registered in CODECS.items():
        assert registered.name == name
        assert codec(name) is registered


def test_unknown_codec_name_lists_the_known_ones() -> None:
    """Asking for a codec that does not exist says which ones do."""
    with pytest.raises(KeyError, match="known: axioma-qalcosonic-w1, milesight-em400udl"):
        codec("milesight-vs999")
