"""Luciole's own sensor payloads on `{prefix}/{site}/sensor/{kind}/{device_id}`.

The topic gives the kind and the device id (the network id); the payload is validated by the
kind's model in `gateway.wire.payloads` (unknown keys are refused: the format is ours, a
stray key is a sender's bug). `ts` becomes `ts_s` (None when the device sent none); `seq`
makes the dedup key `{device}:{seq}`. `period_s` is always present for walkers (0: one
detection event); `alarms` only when the sender gave them, and only from the alarm vocabulary.
"""

import re

from pydantic import ValidationError

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import MAX_PAYLOAD_BYTES, checked_kind, json_object, make_decoded
from gateway.formats.message import Message
from gateway.wire.payloads import PAYLOAD_BY_KIND, SensorPayload

# The shared JSON reader refuses integers longer than this (common._MAX_INT_DIGITS); pydantic's
# would take them, so a payload that has one goes the careful way.
_LONG_INTEGER = re.compile(rb"[0-9]{41}")
_NOT_VALUES = frozenset({"ts", "seq"})


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
    payload = _validated(model, message.payload)
    # The models are flat, so their fields are the values (model_dump would copy them first).
    values = {k: v for k, v in vars(payload).items() if v is not None and k not in _NOT_VALUES}
    if "alarms" not in payload.model_fields_set:
        values.pop("alarms", None)  # the default [] is not the sender saying "no alarm"
    key = None if payload.seq is None else f"{device_id}:{payload.seq}"
    kind = checked_kind(kind_name, "unknown_kind")
    return [
        make_decoded(
            device_id, kind, payload.ts, values, dedup_key=key, source="native", reason="invalid"
        )
    ]


def _validated(model: type[SensorPayload], payload: bytes) -> SensorPayload:
    """The payload as its kind's model.

    Most messages are valid, and pydantic parses and validates JSON bytes in one step, several
    times faster than the shared reader then the model. Whatever it refuses goes through the
    shared reader (size, UTF-8, strict JSON, an object) and the model again, so a refusal has
    the same reason and words as with any other format; a property test checks that both ways
    accept the same payloads with the same values.
    """
    if len(payload) <= MAX_PAYLOAD_BYTES and _LONG_INTEGER.search(payload) is None:
        try:
            return model.model_validate_json(payload)
        except ValidationError:
            pass  # explained below
    try:
        return model.model_validate(json_object(payload))
    except ValidationError as error:
        raise DecodeError("invalid", _explain(error)) from None


def _explain(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "payload"
        message = "unknown field" if detail["type"] == "extra_forbidden" else detail["msg"]
        parts.append(f"{where}: {message} (got {detail.get('input')!r:.40})")
    return "; ".join(parts)
