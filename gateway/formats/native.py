"""Luciole's own sensor payloads on `{prefix}/{site}/sensor/{kind}/{device_id}`.

The topic gives the kind and the device id (the network id); the payload is validated by the
kind's model in `gateway.wire` (unknown keys are refused: the format is ours, a stray key is a
sender's bug). `ts` becomes `ts_s` (None when the device sent none); `seq` makes the dedup key
`{device}:{seq}`. `period_s` is always present for walkers (0: one detection event); `alarms`
only when the sender gave them, and only from the alarm vocabulary.
"""

from pydantic import ValidationError

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import checked_kind, json_object, make_decoded
from gateway.formats.message import Message
from gateway.wire import PAYLOAD_BY_KIND


def decode(message: Message) -> list[Decoded]:
    """The reading of one native sensor message."""
    if message.topics is None:
        raise DecodeError("no_topics", "native payloads need the site's topic layout")
    address = message.topics.parse_sensor(message.topic)
    if address is None or not address[1]:
        raise DecodeError("bad_topic", f"not a sensor topic of this site: {message.topic:.120}")
    kind_name, device_id = address
    model = PAYLOAD_BY_KIND.get(kind_name)
    if model is None:
        known = ", ".join(PAYLOAD_BY_KIND)
        raise DecodeError(
            "unknown_kind", f"unknown sensor kind {kind_name!r:.40}; expected {known}"
        )
    try:
        payload = model.model_validate(json_object(message.payload))
    except ValidationError as error:
        raise DecodeError("invalid", _explain(error)) from None
    values = payload.model_dump(exclude={"ts", "seq"}, exclude_none=True)
    if "alarms" not in payload.model_fields_set:
        values.pop("alarms", None)  # the default [] is not the sender saying "no alarm"
    key = None if payload.seq is None else f"{device_id}:{payload.seq}"
    kind = checked_kind(kind_name, "unknown_kind")
    return [
        make_decoded(
            device_id, kind, payload.ts, values, dedup_key=key, source="native", reason="invalid"
        )
    ]


def _explain(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "payload"
        message = "unknown field" if detail["type"] == "extra_forbidden" else detail["msg"]
        parts.append(f"{where}: {message} (got {detail.get('input')!r:.40})")
    return "; ".join(parts)
