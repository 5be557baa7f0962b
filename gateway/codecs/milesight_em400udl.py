"""Milesight EM400-UDL (ultrasonic distance sensor) on a bin lid: distance to the waste.

Milesight channels (see `milesight_vs133` for the frame layout); integers little-endian:

| channel             | id | type | body                                             |
|---------------------|----|------|--------------------------------------------------|
| battery             | 01 | 75   | % (1 byte)                                       |
| temperature         | 03 | 67   | 0.1 °C (int16)                                   |
| distance            | 04 | 82   | mm (u16)                                         |
| position            | 05 | 00   | 0 normal, 1 tilt                                 |
| location (NB-IoT)   | 06 | 88   | longitude, latitude (int32 each), motion (1 byte) |
| temperature alarm   | 83 | 67   | temperature (int16) + status (1 byte)            |
| distance alarm      | 84 | 82   | distance (u16) + status (1 byte)                 |
plus the Milesight device-information channels (0xFF). An alarm status is 1 when the threshold
alarm is raised and 0 when it is released. Its predecessor on bin lids, the EM310-UDL, sends
distance on 03 82 and position on 04 00 (ids the EM400-UDL does not use), and older vendor
decoders named its position `tilt`: this codec reads both models.

A frame yields one bin reading. Alarms, in Luciole's vocabulary: a tilted position is "tilt";
the temperature threshold alarm is "fire" (a bin sensor's temperature threshold is there to
catch bin fires); the distance threshold alarm is "full", assuming the threshold is set, as it
is on a bin lid, to trip when the waste comes close: the frame does not say which condition
the device was configured with. `alarms` is present whenever the frame says anything about an
alarm, so a release or an upright position clears it.
"""

import math
from collections.abc import Callable, Mapping

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_vs133 import (
    DEVICE_INFO_LAYOUT,
    Describer,
    Layout,
    describe_frame,
    read_channels,
    u16,
)
from gateway.wire.payloads import Kind

# What one channel or field says: values, and alarm states (alarm name -> raised).
Found = tuple[dict[str, object], dict[str, bool]]

_ALARM_RELEASED = 0
_ALARM_RAISED = 1
_MAX_PERCENT = 100
# What the frame's fields can hold: int16 tenths of a degree, u16 millimetres. An object
# value outside them did not come from this device.
_TEMPERATURE_RANGE_C = (-3276.8, 3276.7)
_DISTANCE_RANGE_MM = (0, 2**16 - 1)


def _battery(body: bytes) -> Found:
    if body[0] > _MAX_PERCENT:
        raise CodecError(f"battery {body[0]} % is above 100 %")
    return {"battery_pct": body[0]}, {}


def _temperature_c(body: bytes) -> float:
    return int.from_bytes(body[0:2], "little", signed=True) / 10


def _distance_mm(body: bytes) -> int:
    return int.from_bytes(body[0:2], "little")


def _temperature(body: bytes) -> Found:
    return {"temperature_c": _temperature_c(body)}, {}


def _distance(body: bytes) -> Found:
    return {"distance_mm": _distance_mm(body)}, {}


def _position(body: bytes) -> Found:
    if body[0] not in (0, 1):
        raise CodecError(f"position {body[0]} is unknown (0 normal, 1 tilt)")
    tilted = body[0] == 1
    return {"tilt": tilted}, {"tilt": tilted}


def _alarm_status(status: int, what: str) -> bool:
    if status not in (_ALARM_RELEASED, _ALARM_RAISED):
        raise CodecError(f"{what} status {status} is unknown (0 released, 1 raised)")
    return status == _ALARM_RAISED


def _temperature_alarm(body: bytes) -> Found:
    raised = _alarm_status(body[2], "temperature alarm")
    return {"temperature_c": _temperature_c(body)}, {"fire": raised}


def _distance_alarm(body: bytes) -> Found:
    raised = _alarm_status(body[2], "distance alarm")
    return {"distance_mm": _distance_mm(body)}, {"full": raised}


_CHANNELS: Mapping[tuple[int, int], Callable[[bytes], Found]] = {
    (0x01, 0x75): _battery,
    (0x03, 0x67): _temperature,
    (0x04, 0x82): _distance,
    (0x05, 0x00): _position,
    (0x03, 0x82): _distance,  # EM310-UDL
    (0x04, 0x00): _position,  # EM310-UDL
    (0x83, 0x67): _temperature_alarm,
    (0x84, 0x82): _distance_alarm,
}
_LAYOUT: Layout = {
    **DEVICE_INFO_LAYOUT,
    (0x01, 0x75): 1,
    (0x03, 0x67): 2,
    (0x04, 0x82): 2,
    (0x05, 0x00): 1,
    (0x03, 0x82): 2,
    (0x04, 0x00): 1,
    (0x06, 0x88): 9,  # where an NB-IoT unit is: not a bin measurement
    (0x83, 0x67): 3,
    (0x84, 0x82): 3,
}
_POSITIONS = {0: "normal", 1: "tilt"}
_ALARM_STATES = {_ALARM_RELEASED: "threshold_alarm_release", _ALARM_RAISED: "threshold_alarm"}


def _word(table: Mapping[int, str], code: int) -> str:
    return table.get(code, f"unknown ({code})")


def _describe_location(body: bytes) -> dict[str, object]:
    return {
        "longitude": int.from_bytes(body[0:4], "little", signed=True) / 1e6,
        "latitude": int.from_bytes(body[4:8], "little", signed=True) / 1e6,
        "motion_status": body[8],
    }


_DESCRIBERS: Mapping[tuple[int, int], Describer] = {
    (0x01, 0x75): lambda body: {"battery": body[0]},
    (0x03, 0x67): lambda body: {"temperature": _temperature_c(body)},
    (0x04, 0x82): lambda body: {"distance": u16(body, 0)},
    (0x05, 0x00): lambda body: {"position": _word(_POSITIONS, body[0])},
    (0x03, 0x82): lambda body: {"distance": u16(body, 0)},
    (0x04, 0x00): lambda body: {"position": _word(_POSITIONS, body[0])},
    (0x06, 0x88): _describe_location,
    (0x83, 0x67): lambda body: {
        "temperature": _temperature_c(body),
        "temperature_alarm": _word(_ALARM_STATES, body[2]),
    },
    (0x84, 0x82): lambda body: {
        "distance": u16(body, 0),
        "distance_alarm": _word(_ALARM_STATES, body[2]),
    },
}
# Newer vendor decoders write an alarm as words (joined by '_' or ' '); older ones wrote a
# boolean (`temperature_abnormal`, `distance_alarming`).
_ALARM_WORDS = {"threshold_alarm": True, "threshold_alarm_release": False}


class MilesightEm400Udl:
    """Bytes or a vendor-decoded object from an EM400-UDL -> one bin reading."""

    name = "milesight-em400udl"
    kind: Kind = "bin"

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        """The bin values in `data`; the FPort is not checked, as it is a device setting."""
        found: list[Found] = []
        for channel_id, channel_type, body in read_channels(data, _LAYOUT):
            read = _CHANNELS.get((channel_id, channel_type))
            if read is not None:
                found.append(read(body))
        return self._readings(found)

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        """The bin values from the vendor's object (`distance`, `position`, ...)."""
        return self._readings(
            [
                _number_field(obj, "battery", "battery_pct", 0, _MAX_PERCENT),
                _number_field(obj, "temperature", "temperature_c", *_TEMPERATURE_RANGE_C),
                _number_field(obj, "distance", "distance_mm", *_DISTANCE_RANGE_MM),
                _position_field(obj),
                _alarm_field(obj, "temperature_alarm", "temperature_abnormal", "fire"),
                _alarm_field(obj, "distance_alarm", "distance_alarming", "full"),
            ]
        )

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        """The frame in the vendor decoder's names (`distance`, `position`, ...)."""
        return describe_frame(data, _LAYOUT, _DESCRIBERS)

    def _readings(self, found: list[Found]) -> list[CodecReading]:
        values: dict[str, object] = {}
        states: dict[str, bool] = {}
        for channel_values, channel_states in found:
            values.update(channel_values)
            states.update(channel_states)
        if states:
            values["alarms"] = sorted(name for name, raised in states.items() if raised)
        return [CodecReading(kind=self.kind, values=values)] if values else []


def _number_field(
    obj: Mapping[str, object], vendor: str, ours: str, low: float, high: float
) -> Found:
    value = obj.get(vendor)
    if value is None:
        return {}, {}
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{vendor}: expected a number (got {value!r})")
    # A huge int is finite but cannot become a float: check floats only.
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{vendor}: {value!r} is not a number")
    if not low <= value <= high:
        raise CodecError(f"{vendor}: {value!r} is outside {low}..{high}")
    return {ours: value}, {}


def _position_field(obj: Mapping[str, object]) -> Found:
    key = "position" if obj.get("position") is not None else "tilt"  # EM310-UDL's older name
    position = obj.get(key)
    if position is None:
        return {}, {}
    if position not in ("normal", "tilt"):
        raise CodecError(f"{key}: expected 'normal' or 'tilt' (got {position!r})")
    tilted = position == "tilt"
    return {"tilt": tilted}, {"tilt": tilted}


def _alarm_field(obj: Mapping[str, object], word_key: str, flag_key: str, alarm: str) -> Found:
    word, flag = obj.get(word_key), obj.get(flag_key)
    if word is not None:
        raised = _ALARM_WORDS.get(str(word).replace(" ", "_")) if isinstance(word, str) else None
        if raised is None:
            raise CodecError(f"{word_key}: {word!r} is unknown")
        return {}, {alarm: raised}
    if flag is not None:
        if not isinstance(flag, bool):
            raise CodecError(f"{flag_key}: expected true or false (got {flag!r})")
        return {}, {alarm: flag}
    return {}, {}


CODEC = MilesightEm400Udl()
