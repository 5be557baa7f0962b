"""ChirpStack uplink events → readings, through the device's codec.

v4 (`application/{app}/device/{devEui}/event/up`): `deviceInfo.devEui` (hex), `time`, `fCnt`,
`fPort`, `data` (base64), optional `object` (the device profile's codec output),
`deduplicationId`. v3: `applicationID` (number or text), `devEUI` (hex from the legacy "JSON v3"
marshaler, base64 from the protobuf JSON one), `data`, and `objectJSON` (a JSON *string*) or
`object`; v3 has no event time, so the first gateway's `rxInfo[].time` is used if present.

Proto3 JSON leaves out zero and false fields: a missing `fCnt` or `fPort` is not an error (the
dedup key then falls back to `deduplicationId`, or to none). `data` is always checked, even when
an `object` is used: an uplink whose bytes are not base64 (the docs' `"data": "..."`) is broken.
"""

import re

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import (
    b64_bytes,
    eui_hex,
    json_object,
    loads,
    opt_obj,
    opt_str,
    opt_uint,
    rfc3339_s,
)
from gateway.formats.lorawan import Uplink, uplink_decoded
from gateway.formats.message import Message

_EVENT_TOPIC = re.compile(r"/event/([^/]+)$")
# Only an `up` event has these (status, join, ack, txack, log, location, integration have none).
_UPLINK_FIELDS = ("data", "fPort", "objectJSON")
_MAX_FCNT = 2**32 - 1
_MAX_FPORT = 255


def decode(message: Message) -> list[Decoded]:
    """The readings of one ChirpStack v4 or v3 uplink event."""
    return uplink_decoded(uplink(message), message, "chirpstack")


def uplink(message: Message) -> Uplink:
    """The checked uplink of one ChirpStack v4 or v3 event, before its codec reads it."""
    event = json_object(message.payload)
    _require_uplink(message.topic, event)
    return _v4(event) if "deviceInfo" in event else _v3(event)


def _require_uplink(topic: str, event: dict[str, object]) -> None:
    """The topic names the event type when it follows ChirpStack's layout; else the fields do."""
    named = _EVENT_TOPIC.search(topic)
    if named and named.group(1) != "up":
        raise DecodeError("not_uplink", f"a ChirpStack {named.group(1)} event, not an uplink")
    if not named and not any(field in event for field in _UPLINK_FIELDS):
        fields = ", ".join(sorted(event)[:8])
        raise DecodeError("not_uplink", f"not a ChirpStack uplink event (fields: {fields})")


def _v4(event: dict[str, object]) -> Uplink:
    info = opt_obj(event, "deviceInfo", "deviceInfo") or {}
    eui = eui_hex(info.get("devEui"), "deviceInfo.devEui")
    return _uplink(event, eui, _time_s(event))


def _v3(event: dict[str, object]) -> Uplink:
    if "devEUI" not in event:
        raise DecodeError("invalid", "neither deviceInfo.devEui (v4) nor devEUI (v3) is present")
    application = event.get("applicationID")
    if application is not None and (
        isinstance(application, bool) or not isinstance(application, int | str)
    ):
        raise DecodeError(
            "invalid", f"applicationID: expected a number or text, got {application!r:.40}"
        )
    return _uplink(event, eui_hex(event["devEUI"], "devEUI"), _time_s(event))


def _time_s(event: dict[str, object]) -> float | None:
    """The event's time (v4), else the first gateway's reception time (v3), else None."""
    if event.get("time") is not None:
        return rfc3339_s(event["time"], "time")
    gateways = event.get("rxInfo")
    for index, gateway in enumerate(gateways if isinstance(gateways, list) else []):
        if isinstance(gateway, dict) and gateway.get("time") is not None:
            return rfc3339_s(gateway["time"], f"rxInfo[{index}].time")
    return None


def _uplink(event: dict[str, object], eui: str, ts_s: float | None) -> Uplink:
    fcnt = opt_uint(event, "fCnt", "fCnt", _MAX_FCNT)
    data = event.get("data")
    key = opt_str(event, "deduplicationId", "deduplicationId") or None
    return Uplink(
        eui=eui,
        ts_s=ts_s,
        fport=opt_uint(event, "fPort", "fPort", _MAX_FPORT),
        dedup_key=key or (None if fcnt is None else f"{eui}:{fcnt}"),
        data=None if data is None else b64_bytes(data, "data"),
        obj=_object(event),
    )


def _object(event: dict[str, object]) -> dict[str, object] | None:
    """`object` (v4, and v3's protobuf JSON), else v3's `objectJSON` string parsed."""
    obj = opt_obj(event, "object", "object")
    text = opt_str(event, "objectJSON", "objectJSON")
    if obj is not None or not text:
        return obj
    parsed = loads(text, "objectJSON")
    if parsed is None or isinstance(parsed, dict):
        return parsed
    raise DecodeError("invalid", "objectJSON must hold a JSON object")
