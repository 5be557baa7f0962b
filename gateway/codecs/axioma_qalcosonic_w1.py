"""Axioma Qalcosonic W1 (ultrasonic water meter): the enhanced 24-hour frame, FPort 100.

The frame, 51 bytes, integers little-endian:

| bytes | field                                                                      |
|-------|----------------------------------------------------------------------------|
| 0     | frame version, 0x01                                                        |
| 1-4   | the meter's clock, Unix seconds (u32)                                      |
| 5     | status                                                                     |
| 6-9   | log volume, litres (u32): the index at the start of the logged hours       |
| 10-50 | 23 hourly deltas, litres, 14 bits each, packed from the least significant  |
|       | bit of byte 10 up; the 6 bits left over hold a history multiplier          |

The index at the end of hour k is the log volume plus deltas 1..k, and the last one is the
meter's current index. So a frame yields 24 water readings, oldest first (the order a meter
index grows in): the log volume 23 hours back, then one an hour, the current index last with
`age_s` 0 and the status alarms. Only the current reading carries alarms, since the status is
the meter's state now, not during the past hours.

Status: 0x04 low battery, 0x08 permanent error (a meter fault), 0x10 temporary error. Bits 5-7
say which condition: 0x20 leak, 0x60 backflow, 0x80 low temperature (frost), 0xA0 burst; a
temporary error with none of them means the pipe is empty (dry).

The meter's clock in the frame is not used: a reading's age counts back from the uplink, and
how the last logged hour lines up with that clock is not in the description we could read.
"""

import math
from collections.abc import Mapping, Sequence
from itertools import accumulate

from gateway.codecs.base import CodecError, CodecReading
from gateway.wire.payloads import Kind

_FPORT = 100
_FRAME_BYTES = 51
_FRAME_VERSION = 0x01
_HOURS = 23
_DELTA_BITS = 14
_HOUR_S = 3600.0
_LITRES_PER_M3 = 1000
_U32 = 2**32
_MAX_CURRENT_L = _U32 + _HOURS * (1 << _DELTA_BITS)  # the log volume plus every delta at most

_STATUS_BITS: Mapping[int, str] = {0x04: "low_battery", 0x08: "meter_error"}
_TEMPORARY_ERROR = 0x10
_CONDITION_MASK = 0xE0
_CONDITIONS: Mapping[int, str | None] = {
    0x00: None,
    0x20: "leak",
    0x60: "backflow",
    0x80: "frost",
    0xA0: "burst",
}
# Vendor object flag -> our alarm.
_OBJECT_FLAGS: Mapping[str, str] = {
    "low_battery": "low_battery",
    "permanent_error": "meter_error",
    "pipe_empty": "dry",
    "leakage": "leak",
    "backflow": "backflow",
    "low_temperature": "frost",
    "burst": "burst",
}


class AxiomaQalcosonicW1:
    """Bytes or a vendor-decoded object from a Qalcosonic W1 -> 24 hourly water readings."""

    name = "axioma-qalcosonic-w1"
    kind: Kind = "water"

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        """The current index and the 23 hours before it, from one enhanced 24-hour frame."""
        _check_frame(data, fport)
        packed = int.from_bytes(data[10:], "little")
        mask = (1 << _DELTA_BITS) - 1
        deltas_l = [(packed >> (_DELTA_BITS * hour)) & mask for hour in range(_HOURS)]
        multiplier = packed >> (_DELTA_BITS * _HOURS)
        if multiplier:
            # Its meaning is not documented where we could read it; the deltas may be scaled.
            raise CodecError(f"history multiplier {multiplier} is set: delta scale unknown")
        log_volume_l = int.from_bytes(data[6:10], "little")
        return self._readings(log_volume_l, deltas_l, _status_alarms(data[5]))

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        """The frame's fields, whether or not it can be read as readings."""
        if len(data) != _FRAME_BYTES:
            return {"bytes": len(data), "unreadable": f"the 24-hour frame has {_FRAME_BYTES}"}
        packed = int.from_bytes(data[10:], "little")
        mask = (1 << _DELTA_BITS) - 1
        return {
            "frame_version": data[0],
            "timestamp_unix": int.from_bytes(data[1:5], "little"),
            "status": data[5],
            "log_volume_m3": int.from_bytes(data[6:10], "little") / _LITRES_PER_M3,
            "deltas_m3": [
                ((packed >> (_DELTA_BITS * hour)) & mask) / _LITRES_PER_M3 for hour in range(_HOURS)
            ],
            "history_multiplier": packed >> (_DELTA_BITS * _HOURS),
        }

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        """The same readings from the vendor's object (`log_volume_m3`, `delta_1_m3`, ...);
        an object with only `current_volume_m3` yields the current index alone.
        """
        alarms = _object_alarms(obj)
        current_l = _litres(obj, "current_volume_m3", _MAX_CURRENT_L)
        log_volume_l = _litres(obj, "log_volume_m3", _U32)
        if log_volume_l is None:
            if current_l is None:
                raise CodecError("no volume: log_volume_m3 with its deltas, or current_volume_m3")
            return self._readings(current_l, [], alarms)
        deltas_l = [_delta_litres(obj, hour) for hour in range(1, _HOURS + 1)]
        if current_l is not None and current_l != log_volume_l + sum(deltas_l):
            raise CodecError("current_volume_m3 is not log_volume_m3 plus the hourly deltas")
        return self._readings(log_volume_l, deltas_l, alarms)

    def _readings(
        self, start_l: int, deltas_l: Sequence[int], alarms: list[str]
    ) -> list[CodecReading]:
        totals_l = list(accumulate(deltas_l, initial=start_l))
        hours_back = len(totals_l) - 1
        readings = [
            CodecReading(
                kind=self.kind,
                values={"total_m3": total_l / _LITRES_PER_M3},
                age_s=_HOUR_S * (hours_back - hour),
            )
            for hour, total_l in enumerate(totals_l[:-1])
        ]
        current = {"total_m3": totals_l[-1] / _LITRES_PER_M3, "alarms": alarms}
        return [*readings, CodecReading(kind=self.kind, values=current)]


def _check_frame(data: bytes, fport: int | None) -> None:
    if fport is not None and fport != _FPORT:
        raise CodecError(f"FPort {fport}: only the enhanced 24-hour frame (FPort 100) is read")
    if len(data) != _FRAME_BYTES:
        raise CodecError(f"{len(data)} bytes: the enhanced 24-hour frame has {_FRAME_BYTES}")
    if data[0] != _FRAME_VERSION:
        raise CodecError(f"frame version 0x{data[0]:02x} is unknown (0x01 is documented)")


def _status_alarms(status: int) -> list[str]:
    alarms = {name for bit, name in _STATUS_BITS.items() if status & bit}
    condition_bits = status & _CONDITION_MASK
    if condition_bits not in _CONDITIONS:
        raise CodecError(f"status 0x{status:02x}: condition 0x{condition_bits:02x} is unknown")
    condition = _CONDITIONS[condition_bits]
    if condition is not None:
        alarms.add(condition)
    elif status & _TEMPORARY_ERROR:
        alarms.add("dry")
    return sorted(alarms)


def _object_alarms(obj: Mapping[str, object]) -> list[str]:
    alarms: set[str] = set()
    for flag, alarm in _OBJECT_FLAGS.items():
        value = obj.get(flag)
        if value is not None and not isinstance(value, bool):
            raise CodecError(f"{flag}: expected true or false (got {value!r})")
        if value:
            alarms.add(alarm)
    return sorted(alarms)


def _litres(obj: Mapping[str, object], key: str, limit_l: int) -> int | None:
    """A volume field in m³ as whole litres (the meter counts litres); None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{key}: expected a volume in m³ (got {value!r})")
    # A huge int is finite but cannot become a float: check floats only.
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{key}: {value!r} is not a volume")
    # Compared in m³ first: a float near its maximum times 1000 is infinity, not litres.
    litres = round(value * _LITRES_PER_M3) if 0 <= value <= limit_l / _LITRES_PER_M3 else -1
    if not 0 <= litres < limit_l:
        raise CodecError(f"{key}: {value!r} m³ is outside what the meter can send")
    return litres


def _delta_litres(obj: Mapping[str, object], hour: int) -> int:
    key = f"delta_{hour}_m3"
    litres = _litres(obj, key, 1 << _DELTA_BITS)
    if litres is None:
        raise CodecError(f"{key} is missing: the hourly indexes cannot be rebuilt without it")
    return litres


CODEC = AxiomaQalcosonicW1()
