"""From an MQTT message to a validated reading of a registered device, or a reasoned rejection.

Every rejection carries a short machine reason (for counters and the dead-letter) and a sentence
an operator can act on. Nothing here raises on bad input.
"""

import json
from dataclasses import dataclass

from pydantic import ValidationError

from controllers.settings.site import Device
from gateway.topics import Topics
from gateway.wire import PAYLOAD_BY_KIND, SensorPayload

MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reading:
    """A validated payload from a registered device, with its receive time."""

    device_id: str
    kind: str
    segment: str
    payload: SensorPayload
    received_s: float

    @property
    def ts_s(self) -> float:
        """When it was measured: the device's timestamp, or when we received it."""
        return self.payload.ts if self.payload.ts is not None else self.received_s


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused: `reason` for counting, `detail` for the operator."""

    reason: str
    detail: str


def decode_native(
    topics: Topics, devices: dict[str, Device], topic: str, payload: bytes, received_s: float
) -> Reading | Rejection:
    """Decode one native sensor message; see DESIGN.md for the payloads."""
    address = topics.parse_sensor(topic)
    if address is None:
        return Rejection("bad_topic", f"not a sensor topic: {topic}")
    kind, device_id = address
    device = _registered(devices, kind, device_id)
    if isinstance(device, Rejection):
        return device
    parsed = _json_object(payload)
    if isinstance(parsed, Rejection):
        return parsed
    try:
        value = PAYLOAD_BY_KIND[kind].model_validate(parsed)
    except ValidationError as error:
        return Rejection("invalid", _explain(error))
    return Reading(device_id, kind, device.segment, value, received_s)


def _registered(devices: dict[str, Device], kind: str, device_id: str) -> Device | Rejection:
    if kind not in PAYLOAD_BY_KIND:
        known = ", ".join(PAYLOAD_BY_KIND)
        return Rejection("unknown_kind", f"unknown sensor kind {kind!r}; expected one of {known}")
    device = devices.get(device_id)
    if device is None:
        return Rejection(
            "unknown_device", f"device {device_id!r} is not registered under devices: in the site"
        )
    if device.kind != kind:
        return Rejection(
            "wrong_kind", f"device {device_id!r} is registered as {device.kind}, not {kind}"
        )
    return device


def _json_object(payload: bytes) -> dict[str, object] | Rejection:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            "too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection("not_utf8", f"payload is not UTF-8 text (byte {error.start})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return Rejection("bad_json", f"payload is not JSON: {error.msg} at column {error.colno}")
    except (RecursionError, ValueError) as error:  # nesting too deep, integer too long
        return Rejection("bad_json", f"payload is not usable JSON: {error}")
    if not isinstance(data, dict):
        return Rejection("bad_json", f"payload must be a JSON object, got {type(data).__name__}")
    return data


def _explain(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(p) for p in detail["loc"]) or "payload"
        message = "unknown field" if detail["type"] == "extra_forbidden" else detail["msg"]
        parts.append(f"{where}: {message} (got {detail.get('input')!r})")
    return "; ".join(parts)


class RecentSequences:
    """Drops a device's repeated sequence numbers (QoS 1 redelivery, retransmissions)."""

    def __init__(self, window: int = 64) -> None:
        self._window = window
        self._seen: dict[str, dict[int, None]] = {}

    def is_repeat(self, device_id: str, seq: int | None) -> bool:
        """True if `seq` was already seen recently for this device; remembers it otherwise."""
        if seq is None:
            return False
        recent = self._seen.setdefault(device_id, {})
        if seq in recent:
            return True
        recent[seq] = None
        if len(recent) > self._window:
            del recent[next(iter(recent))]
        return False
