"""What every decoder shares, implemented once: bounded strict JSON, RFC 3339 times, base64,
devEUIs, typed field access, and the checks every `Decoded` passes. The LoRaWAN step (an
uplink's bytes or object through the device's codec) is in `gateway.formats.lorawan`.
"""

import base64
import json
import math
import numbers
import re
from collections.abc import Mapping

from gateway.formats.base import ALARMS, OTHER_ALARM, VALUE_KEYS, Decoded, DecodeError
from gateway.wire import times
from gateway.wire.payloads import Kind

MAX_PAYLOAD_BYTES = 64 * 1024
_MAX_INT_DIGITS = 40  # larger JSON integers are refused, so every number converts to a float

# A reading of each kind must carry at least one of these, or it says nothing worth storing.
REQUIRED_ANY: Mapping[Kind, frozenset[str]] = {
    "pedestrian": frozenset({"count", "count_in", "count_out", "total", "total_in", "total_out"}),
    "bin": VALUE_KEYS["bin"],
    "water": frozenset({"total_m3"}),  # the meter index: everything downstream is built on it
}
_WHOLE_KEYS = REQUIRED_ANY["pedestrian"] | {"line"}
# A meter's flow is signed: water running backwards through it reads below zero (ultrasonic
# meters report a few litres an hour either way at rest); its index stays what it is.
_SIGNED_KEYS = frozenset({"temperature_c", "flow_m3h"})


def parse_json(payload: bytes) -> object:
    """The JSON value of a payload: at most 64 KiB, UTF-8, no NaN/Infinity, no huge numbers."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(
            "too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError("not_utf8", f"payload is not UTF-8 text (byte {error.start})") from None
    return loads(text.removeprefix("\ufeff"), "payload")  # a BOM is harmless: accept it


def loads(text: str, where: str) -> object:
    """Strict JSON text (also for JSON carried as a string, like ChirpStack v3 objectJSON)."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as error:
        raise DecodeError(
            "bad_json", f"{where} is not JSON: {error.msg} (line {error.lineno}, col {error.colno})"
        ) from None
    except (RecursionError, ValueError) as error:  # nesting too deep, numbers out of range
        raise DecodeError("bad_json", f"{where} is not usable JSON: {error}") from None


def json_object(payload: bytes) -> dict[str, object]:
    """The payload as a JSON object (every envelope but SenML's is one)."""
    value = parse_json(payload)
    if not isinstance(value, dict):
        raise DecodeError("bad_json", f"payload must be a JSON object, got {_json_type(value)}")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")  # Python's json accepts NaN, Infinity


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity in Python
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is out of range")
    return int(text)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")


def opt_obj(obj: Mapping[str, object], key: str, where: str) -> dict[str, object] | None:
    """An optional JSON object field (null counts as absent, as proto3 JSON allows)."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise DecodeError("invalid", f"{where}: expected an object, got {_json_type(value)}")


def opt_str(obj: Mapping[str, object], key: str, where: str) -> str | None:
    """An optional string field."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise DecodeError("invalid", f"{where}: expected a string, got {_json_type(value)}")


def opt_uint(obj: Mapping[str, object], key: str, where: str, maximum: int) -> int | None:
    """An optional whole number in 0..maximum."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    raise DecodeError(
        "invalid", f"{where}: expected a whole number 0..{maximum}, got {value!r:.40}"
    )


def real(value: object) -> float | None:
    """A finite real number (bool is not one), or None."""
    if type(value) is float:  # the common case, without the abstract-class check below
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def rfc3339_s(value: object, where: str) -> float:
    """RFC 3339 text → epoch seconds (`gateway.wire.times`, one parser for every format); a
    DecodeError naming `where` for anything else, an offset required."""
    if not isinstance(value, str):
        raise DecodeError("invalid", f"{where}: expected an RFC 3339 time, got {value!r:.60}")
    try:
        return times.rfc3339_s(value)
    except ValueError as error:
        raise DecodeError("invalid", f"{where}: {error}") from None


def b64_bytes(value: object, where: str) -> bytes:
    """Base64 text → bytes; standard or URL-safe alphabet, padding optional (proto3 JSON)."""
    if not isinstance(value, str):
        raise DecodeError("invalid", f"{where}: expected base64 text, got {_json_type(value)}")
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:  # binascii.Error, or non-ASCII text
        raise DecodeError("bad_base64", f"{where} is not base64 ({error}): {value!r:.40}") from None


_HEX_EUI = re.compile(r"[0-9a-fA-F]{16}")


def eui_hex(value: object, where: str) -> str:
    """A devEUI as 16 lowercase hex digits, from hex text or base64 of 8 bytes (ChirpStack v3).
    The two never collide: base64 of 8 bytes is 12 characters long."""
    if isinstance(value, str) and _HEX_EUI.fullmatch(value):
        return value.lower()
    if isinstance(value, str) and len(value) == 12:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raw = b""
        if len(raw) == 8:
            return raw.hex()
    raise DecodeError("invalid", f"{where}: expected a devEUI (16 hex digits), got {value!r:.40}")


def checked_kind(value: object, reason: str) -> Kind:
    """A kind name from the vocabulary."""
    for kind in VALUE_KEYS:
        if value == kind:
            return kind
    raise DecodeError(
        reason, f"unknown kind {value!r:.40}; expected one of {', '.join(VALUE_KEYS)}"
    )


def make_decoded(
    network_id: str,
    kind: Kind,
    ts_s: float | None,
    values: object,
    *,
    dedup_key: str | None,
    source: str,
    reason: str,
    other_alarms: bool = False,
) -> Decoded:
    """A `Decoded` whose values use only the kind's names, with sane types; `reason` is the
    rejection word when they do not (a reading without its key values is `no_readings`).
    `other_alarms` lets alarms outside the vocabulary through as `other:<FLAG>`, for formats
    that relay a vendor's flags (ours, native, must use the vocabulary)."""
    if ts_s is not None and real(ts_s) is None:
        raise DecodeError(reason, f"time {ts_s!r} is out of range")
    if type(values) is not dict and not isinstance(values, Mapping):
        raise DecodeError(reason, f"values must be a mapping, got {type(values).__name__}")
    allowed = VALUE_KEYS[kind]
    unknown = [key for key in values if key not in allowed]
    if unknown:
        raise DecodeError(
            reason, f"{kind} has no value {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )
    checked = {
        str(key): _checked_value(kind, str(key), value, reason, other_alarms)
        for key, value in values.items()
    }
    if not checked.keys() & REQUIRED_ANY[kind]:
        needed = ", ".join(sorted(REQUIRED_ANY[kind]))
        raise DecodeError("no_readings", f"a {kind} reading needs one of: {needed}")
    return Decoded(network_id, kind, ts_s, checked, dedup_key, source)


def _checked_value(kind: Kind, key: str, value: object, reason: str, other: bool) -> object:
    if key == "alarms":
        return _checked_alarms(kind, value, reason, other)
    if key == "direction":
        if value in ("forward", "backward"):
            return value
        raise DecodeError(reason, f"direction must be forward or backward, got {value!r:.40}")
    if key == "tilt":
        if isinstance(value, bool):
            return value
        raise DecodeError(reason, f"tilt must be true or false, got {value!r:.40}")
    number = real(value)
    if number is None:
        raise DecodeError(reason, f"{key} must be a finite number, got {value!r:.40}")
    if key in _WHOLE_KEYS:
        if number < 0 or not number.is_integer():
            raise DecodeError(reason, f"{key} must be a whole number ≥ 0, got {value!r:.40}")
        return int(number)
    if number < 0 and key not in _SIGNED_KEYS:
        raise DecodeError(reason, f"{key} must be ≥ 0, got {value!r:.40}")
    integral = type(value) is int or isinstance(value, numbers.Integral)
    return int(value) if integral else number  # type: ignore[call-overload]


def _checked_alarms(kind: Kind, value: object, reason: str, other: bool) -> list[str]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise DecodeError(reason, f"alarms must be a list, got {value!r:.40}")
    unknown = [
        alarm
        for alarm in value
        if alarm not in ALARMS[kind] and not (other and _is_other_alarm(alarm))
    ]
    if unknown:
        known = ", ".join(sorted(ALARMS[kind])) or "none"
        raise DecodeError(reason, f"unknown {kind} alarm {unknown[0]!r:.40}; known: {known}")
    return sorted(set(value))


def _is_other_alarm(alarm: object) -> bool:
    return (
        isinstance(alarm, str) and alarm.startswith(OTHER_ALARM) and len(alarm) > len(OTHER_ALARM)
    )
