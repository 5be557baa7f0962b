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

A frame yields one reading: `total_in`/`total_out` and `count_in`/`count_out`. Battery and
temperature are not pedestrian values; threshold alarms have no pedestrian vocabulary; history
records are stamped with the device's own clock, which a `CodecReading` cannot express (its
`age_s` is relative to the uplink, whose time a codec is not given), so they are read past.
"""

from collections.abc import Mapping

from gateway.codecs.base import CodecError, CodecReading
from gateway.codecs.milesight_vs133 import DEVICE_INFO_LAYOUT, Layout, count_value, read_channels
from gateway.wire.payloads import Kind

_U16 = 2**16
_HISTORY_PERIOD_ONLY = 0
_HISTORY_WITH_TOTALS = 1


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
# Channels whose body starts with an (in, out) pair of u16 counters, and what we call them.
_PAIRS: Mapping[tuple[int, int], tuple[str, str]] = {
    (0x04, 0xCC): ("total_in", "total_out"),
    (0x84, 0xCC): ("total_in", "total_out"),
    (0x05, 0xCC): ("count_in", "count_out"),
    (0x85, 0xCC): ("count_in", "count_out"),
}
# Vendor object field -> our name.
_OBJECT_FIELDS: Mapping[str, str] = {
    "total_in": "total_in",
    "total_out": "total_out",
    "period_in": "count_in",
    "period_out": "count_out",
}


class MilesightVs350:
    """Bytes or a vendor-decoded object from a VS350 -> one pedestrian reading."""

    name = "milesight-vs350"
    kind: Kind = "pedestrian"

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        """In/out counters in `data`; the FPort is not checked, as it is a device setting."""
        values: dict[str, object] = {}
        for channel_id, channel_type, body in read_channels(data, _LAYOUT):
            names = _PAIRS.get((channel_id, channel_type))
            if names is not None:
                values[names[0]] = int.from_bytes(body[0:2], "little")
                values[names[1]] = int.from_bytes(body[2:4], "little")
        return self._readings(values)

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        """In/out counters from the vendor's object (`total_in`, `period_in`, ...)."""
        values: dict[str, object] = {}
        for vendor, ours in _OBJECT_FIELDS.items():
            count = count_value(obj.get(vendor), vendor, _U16)
            if count is not None:
                values[ours] = count
        return self._readings(values)

    def _readings(self, values: dict[str, object]) -> list[CodecReading]:
        return [CodecReading(kind=self.kind, values=values)] if values else []


CODEC = MilesightVs350()
