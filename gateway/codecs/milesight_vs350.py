"""Milesight VS350 (passage people counter): walkers in and out through one doorway.

Milesight channels (see `milesight_vs133` for the frame layout); integers little-endian:

| channel            | id | type | body                                                     |
|--------------------|----|------|----------------------------------------------------------|
| battery            | 01 | 75   | % (1 byte)                                               |
| temperature        | 03 | 67   | 0.1 °C (int16)                                           |
| total in/out       | 04 | CC   | total in (u16) + total out (u16), cumulative             |
| period in/out      | 05 | CC   | period in (u16) + period out (u16)                       |
| device timestamp   | 0A | EF   | Unix seconds (u32)                                       |
| temperature alarm  | 83 | 67   | temperature (int16) + alarm type (1 byte)                |
| total alarm        | 84 | CC   | total in + total out (u16 each) + alarm type (1 byte)    |
| period alarm       | 85 | CC   | period in + period out (u16 each) + alarm type (1 byte)  |
| history record     | 20 | CE   | timestamp (u32) + record type (1 byte) + period in/out   |
|                    |    |      | (u16 each) + for type 1 total in/out (u16 each)          |
plus the Milesight device-information channels (0xFF).

The bytes are first described in the vendor decoder's names (`describe`: `total_in`,
`period_in`, `history`, ...) and the readings come from that object, so the bytes and a
network server's decoded object cannot give different readings.

The frame's live counters make one reading: `total_in`/`total_out` and `count_in`/`count_out`,
at the uplink's time. Each history record (the device's log, resent after an outage) makes one
reading stamped with the device's clock, oldest first and before the live one:
- a record without totals (type 0) gives its period counts: for a counter that reports no
  totals, the log is the only record of those walkers;
- a record with totals (type 1) gives its totals only. Their delta closes the gap and holds
  the record's period; its period counts may already have been counted from the live frame (a
  LoRaWAN uplink can reach the server while its acknowledgement is lost, and the device then
  logs and resends it), and a delta cannot count them twice;
- a record older than a total of the same frame (live, or logged) is inside that total's
  delta, so it gives nothing.
Battery and temperature are not pedestrian values; threshold alarms have no pedestrian word.
"""

import math
from collections.abc import Mapping

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_vs133 import (
    DEVICE_INFO_LAYOUT,
    Describer,
    Layout,
    count_value,
    describe_channels,
    describe_frame,
    read_channels,
    u16,
)
from gateway.wire.payloads import Kind

_U16 = 2**16
_U32 = 2**32
_HISTORY_PERIOD_ONLY = 0
_HISTORY_WITH_TOTALS = 1
_TOTALS = ("total_in", "total_out")


def _history_size(rest: bytes) -> int:
    """Body size of a history record, which depends on its record type (byte 4)."""
    if len(rest) < 5:
        raise CodecError("history record ends before its record type")
    record_type = rest[4]
    if record_type == _HISTORY_PERIOD_ONLY:
        return 9
    if record_type == _HISTORY_WITH_TOTALS:
        return 13
    raise CodecError(f"history record type {record_type} is unknown (0 and 1 are documented)")


_LAYOUT: Layout = {
    **DEVICE_INFO_LAYOUT,
    (0x01, 0x75): 1,
    (0x03, 0x67): 2,
    (0x04, 0xCC): 4,
    (0x05, 0xCC): 4,
    (0x0A, 0xEF): 4,
    (0x83, 0x67): 3,
    (0x84, 0xCC): 5,
    (0x85, 0xCC): 5,
    (0x20, 0xCE): _history_size,
}
_ALARM_TYPES = {
    0: "threshold alarm release",
    1: "threshold alarm",
    3: "high temperature alarm",
    4: "high temperature alarm release",
}


def _u32(body: bytes) -> int:
    return int.from_bytes(body[0:4], "little")


def _temperature(body: bytes) -> dict[str, object]:
    return {"temperature": int.from_bytes(body[0:2], "little", signed=True) / 10}


def _pair(first: str, second: str, alarm: str | None = None) -> Describer:
    def describe(body: bytes) -> dict[str, object]:
        out: dict[str, object] = {first: u16(body, 0), second: u16(body, 2)}
        if alarm is not None:
            out[alarm] = _alarm_word(body[4])
        return out

    return describe


def _alarm_word(code: int) -> str:
    return _ALARM_TYPES.get(code, f"unknown ({code})")


def _history(body: bytes) -> dict[str, object]:
    record: dict[str, object] = {
        "timestamp": _u32(body),
        "period_in": u16(body, 5),
        "period_out": u16(body, 7),
    }
    if body[4] == _HISTORY_WITH_TOTALS:
        record |= {"total_in": u16(body, 9), "total_out": u16(body, 11)}
    return {"history": [record]}


_DESCRIBERS: Mapping[tuple[int, int], Describer] = {
    (0x01, 0x75): lambda body: {"battery": body[0]},
    (0x03, 0x67): _temperature,
    (0x04, 0xCC): _pair("total_in", "total_out"),
    (0x05, 0xCC): _pair("period_in", "period_out"),
    (0x0A, 0xEF): lambda body: {"timestamp": _u32(body)},
    (0x83, 0x67): lambda body: {**_temperature(body), "temperature_alarm": _alarm_word(body[2])},
    (0x84, 0xCC): _pair("total_in", "total_out", "total_count_alarm"),
    (0x85, 0xCC): _pair("period_in", "period_out", "period_count_alarm"),
    (0x20, 0xCE): _history,
}
# Vendor object field -> our name.
_OBJECT_FIELDS: Mapping[str, str] = {
    "total_in": "total_in",
    "total_out": "total_out",
    "period_in": "count_in",
    "period_out": "count_out",
}


class MilesightVs350:
    """Bytes or a vendor-decoded object from a VS350 -> its history and live readings."""

    name = "milesight-vs350"
    kind: Kind = "pedestrian"

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        """The frame's counters; the FPort is not checked, as it is a device setting."""
        return self.from_object(describe_channels(read_channels(data, _LAYOUT), _DESCRIBERS))

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        """Counters from the vendor's object (`total_in`, `period_in`, `history`, ...)."""
        live = _counters(obj, "")
        logged = _history_records(obj.get("history"))
        return self._readings(live, logged)

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        """The frame in the vendor decoder's names."""
        return describe_frame(data, _LAYOUT, _DESCRIBERS)

    def _readings(
        self, live: dict[str, object], logged: list[tuple[float, dict[str, object]]]
    ) -> list[CodecReading]:
        newest_total_s = math.inf if live.keys() & set(_TOTALS) else -math.inf
        for ts_s, values in logged:
            if values.keys() & set(_TOTALS):
                newest_total_s = max(newest_total_s, ts_s)
        out = []
        for ts_s, values in sorted(logged, key=lambda record: record[0]):
            totals = {key: values[key] for key in _TOTALS if key in values}
            if totals:
                out.append(CodecReading(kind=self.kind, values=totals, ts_s=ts_s))
            elif ts_s >= newest_total_s and values:
                out.append(CodecReading(kind=self.kind, values=values, ts_s=ts_s))
        if live:
            out.append(CodecReading(kind=self.kind, values=live))
        return out


def _counters(obj: Mapping[str, object], where: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for vendor, ours in _OBJECT_FIELDS.items():
        count = count_value(obj.get(vendor), f"{where}{vendor}", _U16)
        if count is not None:
            values[ours] = count
    return values


def _history_records(history: object) -> list[tuple[float, dict[str, object]]]:
    """(device time, counters) of each history record of a vendor object."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise CodecError(f"history: expected a list of records (got {history!r:.40})")
    records = []
    for index, record in enumerate(history):
        where = f"history[{index}]."
        if not isinstance(record, Mapping):
            raise CodecError(f"{where[:-1]}: expected an object (got {record!r:.40})")
        ts_s = count_value(record.get("timestamp"), f"{where}timestamp", _U32)
        if ts_s is None:
            raise CodecError(f"{where}timestamp is missing: a logged record needs its time")
        records.append((float(ts_s), _counters(record, where)))
    return records


CODEC = MilesightVs350()
