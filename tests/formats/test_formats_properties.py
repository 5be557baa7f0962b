"""Every decoder, any input: a list of well-formed readings or a DecodeError, nothing else.

Random bytes rarely get past the JSON parser, so each format also gets near-valid envelopes:
valid JSON objects with the format's own fields, each either plausible or random.
"""

import base64
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codecs.base import CodecError, CodecReading
from gateway.formats import FORMATS, Decoder, Message
from gateway.formats.base import ALARMS, OTHER_ALARM, VALUE_KEYS, Decoded, DecodeError
from gateway.formats.common import REQUIRED_ANY
from gateway.wire.payloads import Kind
from gateway.wire.topics import Topics
from tests.conftest import DECODER_EXAMPLES

TOPICS = Topics(prefix="luciole", site="site1")
EXAMPLES = settings(max_examples=DECODER_EXAMPLES, deadline=None)

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "...", "0", "OK", "LEAK"])
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


# Flat wrong values are much cheaper to draw than recursive JSON, and reach the same checks.
_WRONG = (
    _SCALARS
    | st.lists(_SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2)
)


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Mostly the plausible value, sometimes a value of any JSON type."""
    return st.one_of(strategy, strategy, _WRONG)


def payloads(envelopes: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    """Any bytes, or a near-valid envelope as JSON: one stream, so each decoder's 2000
    examples cover both."""
    return st.binary(max_size=200) | envelopes.map(lambda value: json.dumps(value).encode())


_ALL_KEYS = sorted(set().union(*VALUE_KEYS.values()))
_ALARM_WORDS = sorted(set().union(*ALARMS.values()))


@dataclass
class ScriptedCodec:
    """A codec whose answer hypothesis chooses: readings (sane or not), CodecError, or a crash."""

    readings: list[CodecReading]
    failure: str | None = None
    name: str = "scripted"
    kind: Kind = "pedestrian"
    calls: list[object] = field(default_factory=list)

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        return self._answer()

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        return self._answer()

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        return {}  # only `luciole decode` asks a codec to describe a frame

    def _answer(self) -> list[CodecReading]:
        if self.failure == "codec":
            raise CodecError("cannot read")
        if self.failure == "crash":
            raise ZeroDivisionError("bug")
        return self.readings


_VALUES = st.dictionaries(
    st.sampled_from([*_ALL_KEYS, "speed"]),
    _SCALARS | st.lists(st.sampled_from([*_ALARM_WORDS, "flood"]), max_size=2),
    max_size=4,
)
_READINGS = st.builds(
    CodecReading,
    kind=st.sampled_from([*VALUE_KEYS, "other"]),
    values=_VALUES,
    age_s=st.floats() | st.integers(min_value=-5, max_value=10**6),
)
CODECS = st.none() | st.builds(
    ScriptedCodec,
    readings=st.lists(_READINGS, max_size=2),
    failure=st.sampled_from([None, None, None, "codec", "crash"]),
)


def check(decode: Decoder, message: Message, other_alarms: bool = False) -> None:
    """The decoder returns well-formed readings or raises DecodeError with a reason word;
    `other_alarms`: the format may keep a flag it does not know as `other:<FLAG>`."""
    try:
        out = decode(message)
    except DecodeError as error:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", error.reason), error.reason
        return
    assert isinstance(out, list)
    for decoded in out:
        assert isinstance(decoded, Decoded)
        assert decoded.kind in VALUE_KEYS
        assert set(decoded.values) <= VALUE_KEYS[decoded.kind]
        assert decoded.values.keys() & REQUIRED_ANY[decoded.kind]
        alarms = decoded.values.get("alarms", [])
        assert isinstance(alarms, list | tuple), alarms
        known = {a for a in alarms if not (other_alarms and a.startswith(OTHER_ALARM))}
        assert known <= ALARMS[decoded.kind]
        assert isinstance(decoded.network_id, str) and decoded.network_id
        assert decoded.ts_s is None or math.isfinite(decoded.ts_s)
        json.dumps(dict(decoded.values), allow_nan=False)  # storable as it is


_TIMES = st.sampled_from(
    [
        "2022-07-18T09:34:15.775023242+00:00",
        "2023-05-19T05:33:35.848446463Z",
        "1111-11-11T11:11:11Z",
    ]
) | st.datetimes().map(lambda moment: moment.isoformat() + "Z")
_B64 = st.binary(max_size=20).map(lambda raw: base64.b64encode(raw).decode()) | st.sampled_from(
    ["...", "", "qg", "-_8=", "é"]
)
_EUIS = st.sampled_from(["0101010101010101", "AgICAgICAgI=", "0004A30B001C0530"]) | st.binary(
    min_size=7, max_size=9
).map(bytes.hex)
_OBJECTS = st.dictionaries(
    st.sampled_from(["n", "line_1", "distance"]) | st.text(max_size=4), JSON, max_size=3
)
_LORA_COMMON = {
    "fPort": maybe(st.integers(min_value=-1, max_value=256)),
    "fCnt": maybe(st.integers(min_value=-1, max_value=2**32)),
    "data": maybe(_B64),
    "object": maybe(_OBJECTS),
    "rxInfo": maybe(
        st.lists(st.fixed_dictionaries({}, optional={"time": maybe(_TIMES)}), max_size=2)
    ),
}
CHIRPSTACK = st.fixed_dictionaries(
    {},
    optional={
        **_LORA_COMMON,
        "deduplicationId": maybe(st.uuids().map(str)),
        "time": maybe(_TIMES),
        "deviceInfo": maybe(st.fixed_dictionaries({}, optional={"devEui": maybe(_EUIS)})),
        "applicationID": maybe(st.integers() | st.text(max_size=3)),
        "devEUI": maybe(_EUIS),
        "objectJSON": maybe(_OBJECTS.map(json.dumps) | st.text(max_size=10)),
        "margin": st.integers(),
    },
)
_CHIRPSTACK_TOPICS = st.sampled_from(
    ["", "application/1/device/0101010101010101/event/up"]
) | st.sampled_from(["status", "join", "log"]).map(
    lambda event: f"application/1/device/0101010101010101/event/{event}"
)


@EXAMPLES
@given(payload=payloads(CHIRPSTACK), topic=_CHIRPSTACK_TOPICS | st.text(max_size=20), codec=CODECS)
def test_chirpstack_any_input(payload: bytes, topic: str, codec: ScriptedCodec | None) -> None:
    """ChirpStack: any bytes, or v4/v3-shaped events with plausible or random fields."""
    check(FORMATS["chirpstack"], Message(topic, payload, 1.7e9, codec))


TTS = st.fixed_dictionaries(
    {},
    optional={
        "end_device_ids": maybe(st.fixed_dictionaries({}, optional={"dev_eui": maybe(_EUIS)})),
        "received_at": maybe(_TIMES),
        "uplink_message": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "f_port": maybe(st.integers(min_value=-1, max_value=256)),
                    "f_cnt": maybe(st.integers(min_value=-1, max_value=2**32)),
                    "frm_payload": maybe(_B64),
                    "decoded_payload": maybe(_OBJECTS),
                    "received_at": maybe(_TIMES),
                },
            )
        ),
        "join_accept": st.just({}),
    },
)


@EXAMPLES
@given(payload=payloads(TTS), codec=CODECS)
def test_tts_any_input(payload: bytes, codec: ScriptedCodec | None) -> None:
    """TTS: any bytes, or uplink-shaped messages with plausible or random fields."""
    check(FORMATS["tts"], Message("v3/a@t/devices/d/up", payload, 1.7e9, codec))


_NAMES = st.sampled_from(
    ["count", "count_in", "total", "volume", "flow", "distance", "fill", "temperature", "tilt"]
)
_UNITS = st.sampled_from(["count", "/", "%", "m", "mm", "m3", "l", "l/s", "m3/s", "Cel", "K", "V"])
_NUMBERS = st.integers(min_value=-(2**30), max_value=2**31) | st.floats(
    min_value=-1e12, max_value=1e12
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "bn": maybe(st.sampled_from(["urn:dev:mac:0024befffe804ff1:", "dev/", "-bad:", ""])),
        "bt": maybe(_NUMBERS | st.sampled_from([1.7e9, 2**28, -60])),
        "bu": maybe(_UNITS),
        "bv": maybe(_NUMBERS),
        "bver": maybe(st.sampled_from([5, 10, 11, 2.5])),
        "n": maybe(_NAMES | _NAMES.map(lambda name: f"meter-1:{name}")),
        "u": maybe(_UNITS),
        "v": maybe(_NUMBERS),
        "vb": maybe(st.booleans()),
        "vs": maybe(st.text(max_size=5)),
        "vd": maybe(_B64),
        "s": maybe(_NUMBERS),
        "t": maybe(_NUMBERS),
        "ut": maybe(_NUMBERS),
        "x_": st.just(1),
        "extra": _WRONG,
    },
)


@EXAMPLES
@given(payload=payloads(st.lists(_RECORD, max_size=5) | JSON), now_s=st.floats(0, 4e9))
def test_senml_any_input(payload: bytes, now_s: float) -> None:
    """SenML: any bytes, or packs of RFC 8428 labels with plausible or random values."""
    check(FORMATS["senml"], Message("senml", payload, now_s))


_STATUS = st.lists(
    st.sampled_from(["OK", "LEAK", "DRY", "ALARM", "NEW_FLAG", "leak"]), max_size=3
).map(" ".join)
WMBUS = st.fixed_dictionaries(
    {},
    optional={
        "_": st.just("telegram"),
        "id": maybe(st.sampled_from(["33225544", ""])),
        "media": maybe(st.sampled_from(["water", "cold water", "electricity"])),
        "total_m3": maybe(_NUMBERS),
        "flow_m3h": maybe(_NUMBERS),
        "volume_flow_m3h": maybe(_NUMBERS),
        "backflow_m3": maybe(_NUMBERS),
        "status": maybe(_STATUS),
        "current_status": maybe(_STATUS),
        "timestamp": maybe(_TIMES),
    },
)


@EXAMPLES
@given(payload=payloads(WMBUS))
def test_wmbusmeters_any_input(payload: bytes) -> None:
    """wmbusmeters: any bytes, or telegrams with plausible or random fields."""
    check(FORMATS["wmbusmeters"], Message("wmbusmeters/x", payload, 1.7e9), other_alarms=True)


NATIVE = st.fixed_dictionaries(
    {},
    optional={
        "ts": maybe(_TIMES | _NUMBERS),
        "seq": maybe(st.integers(min_value=-1)),
        "count": maybe(_NUMBERS),
        "period_s": maybe(_NUMBERS),
        "direction": maybe(st.sampled_from(["forward", "backward", "up"])),
        "distance_mm": maybe(_NUMBERS),
        "fill_ratio": maybe(st.floats(min_value=-0.5, max_value=1.5)),
        "temperature_c": maybe(_NUMBERS),
        "tilt": maybe(st.booleans()),
        "total_m3": maybe(_NUMBERS),
        "flow_m3h": maybe(_NUMBERS),
        "alarms": maybe(st.lists(st.sampled_from([*_ALARM_WORDS, "flood"]), max_size=3)),
    },
)
_NATIVE_TOPICS = st.builds(
    "luciole/{}/sensor/{}/{}".format,
    st.sampled_from(["site1", "site2"]),
    st.sampled_from(["pedestrian", "bin", "water", "bike"]),
    st.sampled_from(["d-1", ""]),
)


@EXAMPLES
@given(
    payload=payloads(NATIVE),
    topic=_NATIVE_TOPICS | st.text(max_size=20),
    topics=st.sampled_from([TOPICS, TOPICS, None]),
)
def test_native_any_input(payload: bytes, topic: str, topics: Topics | None) -> None:
    """Native: any bytes, or payloads with plausible or random fields, on plausible topics."""
    check(FORMATS["native"], Message(topic, payload, 1.7e9, None, topics))
