"""The LoRaWAN step shared by ChirpStack and TTS: an uplink's bytes or object through the
device's codec to `Decoded`, with the uplink's identity, time and dedup key.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.codecs.base import Codec, CodecError, CodecReading
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import checked_kind, make_decoded, real
from gateway.formats.message import Message


@dataclass(frozen=True)
class Uplink:
    """What a network server's uplink tells a codec, already checked and decoded."""

    eui: str
    ts_s: float | None  # the network server's time of the uplink, if it gave one
    fport: int | None
    dedup_key: str | None
    data: bytes | None  # the FRMPayload
    obj: Mapping[str, object] | None  # what the server's payload formatter made of it


def uplink_decoded(uplink: Uplink, message: Message, source: str) -> list[Decoded]:
    """The uplink's readings through the device's codec: the server's object when there is
    one (the vendor's own codec made it), else the bytes. Back-dated readings get
    `ts_s = uplink time - age_s`, or the device's own time when the codec read one; several
    readings of one uplink get distinct dedup keys."""
    if uplink.obj is None and not uplink.data:
        raise DecodeError("no_readings", f"uplink of {uplink.eui} carries no application payload")
    codec = message.codec
    if codec is None:
        raise DecodeError("no_codec", f"uplink of {uplink.eui} needs a codec; none is configured")
    readings = _codec_readings(codec, uplink)
    if not readings:
        raise DecodeError("no_readings", f"codec {codec.name} found no reading in the uplink")
    return [
        _decoded(uplink, message, index, reading, source) for index, reading in enumerate(readings)
    ]


def _decoded(
    uplink: Uplink, message: Message, index: int, reading: CodecReading, source: str
) -> Decoded:
    age_s = real(reading.age_s)
    if age_s is None or age_s < 0:
        raise DecodeError("codec_error", f"the codec gave age_s {reading.age_s!r:.40}")
    ts_s = uplink.ts_s
    if age_s > 0:  # back-dated: counted from the uplink's time, or from its arrival
        ts_s = (message.received_s if ts_s is None else ts_s) - age_s
    if reading.ts_s is not None:  # stamped by the device's own clock (a logged record)
        ts_s = real(reading.ts_s)
        if ts_s is None:
            raise DecodeError("codec_error", f"the codec gave ts_s {reading.ts_s!r:.40}")
    key = uplink.dedup_key
    if key is not None and index > 0:
        key = f"{key}#{index}"  # one uplink, several readings: each needs its own key
    kind = checked_kind(reading.kind, "codec_error")
    return make_decoded(
        uplink.eui, kind, ts_s, reading.values, dedup_key=key, source=source, reason="codec_error"
    )


def _codec_readings(codec: Codec, uplink: Uplink) -> list[CodecReading]:
    try:
        if uplink.obj is not None:
            readings = codec.from_object(uplink.obj)
        else:
            readings = codec.decode_bytes(uplink.data or b"", uplink.fport)
    except CodecError as error:
        raise DecodeError("codec_error", f"codec {codec.name}: {error.detail}") from None
    except Exception as error:  # a codec bug must not take the daemon down: dead-letter it
        raise DecodeError(
            "codec_crash", f"codec {codec.name} failed: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(readings, list) or not all(
        isinstance(reading, CodecReading) for reading in readings
    ):
        raise DecodeError("codec_error", f"codec {codec.name} did not return CodecReadings")
    return readings
