"""Luciole's own sensor payloads on `{prefix}/{site}/sensor/{kind}/{device_id}`.

The topic gives the kind and the device id (the network id); the payload is validated by the
kind's model in `gateway.wire.payloads`, strictly (unknown keys are refused: the format is
ours, a stray key is a sender's bug; a number must be a JSON number, a time RFC 3339 or an
epoch number; a whole number may be written 5.0). `ts` becomes `ts_s` (None when the device
sent none); `seq` makes the dedup key `{device}:{seq}`. `period_s` is always present for
walkers (0: one detection event); `alarms` only when the sender gave them, and only from the
alarm vocabulary.
"""

import json
import re

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import MAX_PAYLOAD_BYTES, checked_kind, json_object, make_decoded
from gateway.formats.message import Message
from gateway.wire.payloads import PAYLOAD_BY_KIND, SensorPayload

# The shared JSON reader refuses integers longer than this (common._MAX_INT_DIGITS); pydantic's
# would take them, so a payload that has one goes the careful way.
_LONG_INTEGER = re.compile(rb"[0-9]{41}")
_NOT_VALUES = frozenset({"ts", "seq"})
_WHOLE = ("count", "seq")  # the models' integers


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
    times faster than the shared reader then the model. Whatever it refuses goes the careful
    way: the shared reader (size, UTF-8, strict JSON, an object), whole numbers written as
    5.0 made integers (rare, so the fast way does not pay for it), and the model again, so a
    refusal has the same reason and words as with any other format; a property test checks
    that both ways accept the same payloads with the same values.
    """
    if len(payload) <= MAX_PAYLOAD_BYTES and _LONG_INTEGER.search(payload) is None:
        try:
            return model.model_validate_json(payload)
        except ValidationError:
            pass  # explained below
    return careful(model, payload)


def careful(model: type[SensorPayload], payload: bytes) -> SensorPayload:
    """The payload as its kind's model, the way every other format reads JSON."""
    body = json_object(payload)
    for key in _WHOLE:
        value = body.get(key)
        if type(value) is float and value.is_integer():
            body[key] = int(value)
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise DecodeError("invalid", _explain(error)) from None


def _explain(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "payload"
        parts.append(f"{where}: {_problem(detail)}")
    return "; ".join(parts)


# What a field of each pydantic type takes, in the words of the wire contract.
_EXPECTED = {
    "int_type": "a whole JSON number",
    "float_type": "a JSON number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
}


def _problem(detail: ErrorDetails) -> str:
    kind, given = detail["type"], detail.get("input")
    if kind == "extra_forbidden":
        return f"unknown field (got {given!r:.40})"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_json_text(given)}"
    if kind == "value_error":  # our own validators' words (a time), which quote the input
        return detail["msg"].removeprefix("Value error, ")
    return f"{detail['msg']} (got {given!r:.40})"


def _json_text(value: object) -> str:
    """A value as the sender wrote it (the careful way's values all come from JSON)."""
    text = json.dumps(value, default=repr)
    return f"the string {text:.42}" if isinstance(value, str) else f"{text:.40}"
