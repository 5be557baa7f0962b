"""ChirpStack and TTS envelopes: identity, time, dedup keys, event types and the codec seam."""

import base64
import json
from collections.abc import Mapping

import pytest

from gateway.codecs.base import Codec, CodecError, CodecReading
from gateway.formats import chirpstack, tts
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.message import Decoder, Message
from gateway.wire.payloads import Kind

RECEIVED_S = 1_700_000_000.0
DEDUP_ID = "3ac7e3c4-4401-4b8d-9386-a5c902f9202d"
UP_TOPIC = "application/17c82e96/device/0101010101010101/event/up"


class FakeCodec:
    """Counts bytes (or reads `n` from an object) as walkers; can fail, crash or back-date."""

    name = "fake"
    kind: Kind = "pedestrian"

    def __init__(
        self, *, fail: bool = False, crash: bool = False, ages_s: tuple[float, ...] = (0.0,)
    ) -> None:
        self.fail, self.crash, self.ages_s = fail, crash, ages_s
        self.calls: list[tuple[str, object, object]] = []

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        self.calls.append(("bytes", data, fport))
        return self._readings(len(data))

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        self.calls.append(("object", dict(obj), None))
        return self._readings(obj.get("n"))

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        return {}  # only `luciole decode` asks a codec to describe a frame

    def _readings(self, count: object) -> list[CodecReading]:
        if self.fail:
            raise CodecError("frame too short")
        if self.crash:
            raise IndexError("index out of range")
        return [CodecReading("pedestrian", {"count": count}, age_s) for age_s in self.ages_s]


def _message(
    envelope: dict[str, object], codec: Codec | None = None, topic: str = UP_TOPIC
) -> Message:
    return Message(topic, json.dumps(envelope).encode(), RECEIVED_S, codec)


def _v4(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "deduplicationId": DEDUP_ID,
        "time": "2022-07-18T09:34:15.775023242+00:00",
        "deviceInfo": {"devEui": "0101010101010101"},
        "fCnt": 12,
        "fPort": 85,
        "data": base64.b64encode(b"abc").decode(),
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def _reason(decode: Decoder, message: Message) -> str:
    with pytest.raises(DecodeError) as refused:
        decode(message)
    return refused.value.reason


def test_v4_uplink_bytes_go_through_the_codec() -> None:
    """devEui, nanosecond time, deduplicationId and (bytes, fPort) reach the reading."""
    codec = FakeCodec()
    (got,) = chirpstack.decode(_message(_v4(), codec))
    assert got == Decoded(
        "0101010101010101", "pedestrian", 1658136855.775023, {"count": 3}, DEDUP_ID
    )
    assert codec.calls == [("bytes", b"abc", 85)]


def test_v4_zero_fields_left_out_are_not_errors() -> None:
    """Without fCnt, fPort and deduplicationId (proto3 omits zeros) the uplink still decodes."""
    codec = FakeCodec()
    (got,) = chirpstack.decode(_message(_v4(fCnt=None, fPort=None, deduplicationId=None), codec))
    assert got.dedup_key is None
    assert codec.calls == [("bytes", b"abc", None)]


def test_v4_without_deduplication_id_keys_on_the_frame_counter() -> None:
    """The dedup key falls back to devEUI:fCnt."""
    (got,) = chirpstack.decode(_message(_v4(deduplicationId=None), FakeCodec()))
    assert got.dedup_key == "0101010101010101:12"


def test_v4_object_is_preferred_but_data_is_still_checked() -> None:
    """With an `object` the codec reads it; a placeholder `data` is still bad_base64."""
    codec = FakeCodec()
    (got,) = chirpstack.decode(_message(_v4(object={"n": 4}), codec))
    assert got.values == {"count": 4} and codec.calls[0][0] == "object"
    assert (
        _reason(chirpstack.decode, _message(_v4(object={"n": 4}, data="..."), codec))
        == "bad_base64"
    )


def _v3(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "applicationID": 123,
        "devEUI": "AgICAgICAgI=",
        "rxInfo": [{"gatewayID": "AwMDAwMDAwM=", "time": "2016-11-25T16:24:37.295915988Z"}],
        "fCnt": 10,
        "fPort": 5,
        "data": "qg==",
        "objectJSON": '{"n": 2}',
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def test_v3_objectjson_string_base64_deveui_and_gateway_time() -> None:
    """v3: objectJSON is parsed, a base64 devEUI becomes hex, the gateway's time is used."""
    (got,) = chirpstack.decode(_message(_v3(), FakeCodec()))
    assert got == Decoded(
        "0202020202020202", "pedestrian", 1480091077.295915, {"count": 2}, "0202020202020202:10"
    )


def test_v3_without_any_time_has_no_time() -> None:
    """No event time and no gateway time: ts_s is None (the receive time is used later)."""
    (got,) = chirpstack.decode(_message(_v3(rxInfo=[{"rssi": -57}]), FakeCodec()))
    assert got.ts_s is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"objectJSON": "{oops"}, "bad_json"),
        ({"objectJSON": "[1]"}, "invalid"),
        ({"devEUI": "not-an-eui"}, "invalid"),
        ({"applicationID": True}, "invalid"),
        ({"fCnt": -1}, "invalid"),
        ({"fPort": 256}, "invalid"),
        ({"data": "..."}, "bad_base64"),
        ({"rxInfo": [{"time": "yesterday"}]}, "invalid"),
    ],
)
def test_v3_broken_fields_are_refused(fields: dict[str, object], reason: str) -> None:
    """Each broken field is refused with its own reason."""
    assert _reason(chirpstack.decode, _message(_v3(**fields), FakeCodec())) == reason


def test_v3_empty_objectjson_means_no_object() -> None:
    """An empty objectJSON string (no codec on the server) sends the bytes to our codec."""
    codec = FakeCodec()
    (got,) = chirpstack.decode(_message(_v3(objectJSON=""), codec))
    assert got.values == {"count": 1} and codec.calls[0][0] == "bytes"


@pytest.mark.parametrize(
    "event", ["status", "join", "ack", "txack", "log", "location", "integration"]
)
def test_other_chirpstack_events_are_not_uplinks_by_topic(event: str) -> None:
    """The topic's event type refuses anything but `up`, whatever the payload."""
    topic = UP_TOPIC.replace("/event/up", f"/event/{event}")
    assert _reason(chirpstack.decode, _message(_v4(), FakeCodec(), topic)) == "not_uplink"


def test_other_chirpstack_events_are_not_uplinks_by_content() -> None:
    """Without a telling topic, an event with no data, fPort or objectJSON is not an uplink."""
    status = {"deviceInfo": {"devEui": "0101010101010101"}, "margin": 10, "batteryLevel": 88.3}
    assert _reason(chirpstack.decode, _message(status, FakeCodec(), "")) == "not_uplink"


def test_missing_codec_failing_codec_and_crashing_codec() -> None:
    """No codec: no_codec; CodecError: codec_error; any other exception: codec_crash."""
    assert _reason(chirpstack.decode, _message(_v4())) == "no_codec"
    assert _reason(chirpstack.decode, _message(_v4(), FakeCodec(fail=True))) == "codec_error"
    assert _reason(chirpstack.decode, _message(_v4(), FakeCodec(crash=True))) == "codec_crash"


def test_codec_output_outside_the_vocabulary_is_a_codec_error() -> None:
    """A codec giving a value name the kind does not have is refused, not stored."""

    class Sloppy(FakeCodec):
        def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
            return [CodecReading("pedestrian", {"walkers": 3})]

    assert _reason(chirpstack.decode, _message(_v4(), Sloppy())) == "codec_error"


def test_codec_with_nothing_to_say_and_empty_frames_have_no_readings() -> None:
    """A codec returning no reading, or an uplink without payload, is no_readings."""
    assert _reason(chirpstack.decode, _message(_v4(), FakeCodec(ages_s=()))) == "no_readings"
    assert (
        _reason(chirpstack.decode, _message(_v4(data=None, fPort=None), FakeCodec()))
        == "no_readings"
    )


def test_back_dated_readings_get_earlier_times_and_distinct_keys() -> None:
    """age_s is taken off the uplink time; each reading of one uplink has its own dedup key."""
    got = chirpstack.decode(_message(_v4(deduplicationId=None), FakeCodec(ages_s=(0.0, 3600.0))))
    assert [d.ts_s for d in got] == pytest.approx([1658136855.775023, 1658133255.775023])
    assert [d.dedup_key for d in got] == ["0101010101010101:12", "0101010101010101:12#1"]


def test_back_dated_readings_without_uplink_time_count_from_arrival() -> None:
    """With no time in the uplink, a back-dated reading counts back from the receive time."""
    got = chirpstack.decode(_message(_v3(rxInfo=None), FakeCodec(ages_s=(0.0, 60.0))))
    assert [d.ts_s for d in got] == [None, RECEIVED_S - 60.0]


def _tts(**up_fields: object) -> dict[str, object]:
    up: dict[str, object] = {"f_port": 85, "f_cnt": 10335, "frm_payload": "AXVc"}
    up.update(up_fields)
    return {
        "end_device_ids": {"device_id": "eui-1", "dev_eui": "1000000000000001"},
        "received_at": "2023-05-19T05:33:35.848446463Z",
        "uplink_message": {key: value for key, value in up.items() if value is not None},
    }


def test_tts_uplink_bytes_time_and_dedup_key() -> None:
    """dev_eui, received_at (nanoseconds) and dev_eui:f_cnt make the reading."""
    codec = FakeCodec()
    (got,) = tts.decode(_message(_tts(), codec, "v3/app@ttn/devices/eui-1/up"))
    assert got == Decoded(
        "1000000000000001", "pedestrian", 1684474415.848446, {"count": 3}, "1000000000000001:10335"
    )
    assert codec.calls == [("bytes", b"\x01u\\", 85)]


def test_tts_decoded_payload_is_preferred_and_f_cnt_may_be_missing() -> None:
    """decoded_payload goes to from_object; without f_cnt there is no dedup key."""
    (got,) = tts.decode(_message(_tts(decoded_payload={"n": 5}, f_cnt=None), FakeCodec()))
    assert got.values == {"count": 5} and got.dedup_key is None


def test_tts_time_falls_back_to_the_network_server_time() -> None:
    """Without a top-level received_at, uplink_message.received_at is used."""
    envelope = _tts(received_at="2023-05-19T05:33:35.641841782Z")
    del envelope["received_at"]
    (got,) = tts.decode(_message(envelope, FakeCodec()))
    assert got.ts_s == pytest.approx(1684474415.641841)


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ({"end_device_ids": {"dev_eui": "1000000000000001"}, "join_accept": {}}, "not_uplink"),
        (
            {"end_device_ids": {"device_id": "abp-1"}, "uplink_message": {"frm_payload": "qg=="}},
            "invalid",
        ),
        ({"end_device_ids": {"dev_eui": "1000000000000001"}, "uplink_message": []}, "invalid"),
        (_tts(frm_payload="..."), "bad_base64"),
        (_tts(f_cnt="7"), "invalid"),
    ],
)
def test_tts_refusals(envelope: dict[str, object], reason: str) -> None:
    """Non-uplinks, a device without dev_eui, and broken fields are refused with reasons."""
    assert _reason(tts.decode, _message(envelope, FakeCodec())) == reason
