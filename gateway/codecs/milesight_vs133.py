"""Milesight VS133 (AI ToF people counter): walkers crossing up to four counting lines.

Milesight frames are a sequence of channels: channel id (1 byte), channel type (1 byte), then a
body whose length the (id, type) pair fixes; integers are little-endian. The VS133's channels:

| line | total in (u32) | total out (u32) | period in (u16) + period out (u16) |
|------|----------------|-----------------|------------------------------------|
| 1    | 03 D2          | 04 D2           | 05 CC                              |
| 2    | 06 D2          | 07 D2           | 08 CC                              |
| 3    | 09 D2          | 0A D2           | 0B CC                              |
| 4    | 0C D2          | 0D D2           | 0E CC                              |

plus region count (0F E3, 4 bytes) and dwell time (10 E4, 5 bytes), which describe people
standing in areas rather than walkers passing, so they are read past and not reported.

Each line in a frame yields one reading, in line order: `line` (1 to 4: each line has its own
counters), `total_in`/`total_out` (the device's cumulative counters) and `count_in`/`count_out`
(walkers in the device's report period; its length is a device setting the frame does not
carry, hence no `period_s`).

This module also holds the Milesight channel reader and describer the other Milesight codecs
use.
"""

import math
from collections.abc import Callable, Mapping

from gateway.codecs.base import CodecError, CodecReading
from gateway.wire.payloads import Kind

# A body's size in bytes, or a function of the bytes after the header for variable bodies.
BodySize = int | Callable[[bytes], int]
Layout = Mapping[tuple[int, int], BodySize]
Channel = tuple[int, int, bytes]

# Device information that newer Milesight devices send after joining or on request (channel
# 0xFF): protocol, hardware, firmware and TSL versions, serial number, LoRaWAN class, reset
# and power-on events. The VS350 and EM400-UDL decoders list them; they carry no measurement.
DEVICE_INFO_LAYOUT: Layout = {
    (0xFF, 0x01): 1,
    (0xFF, 0x09): 2,
    (0xFF, 0x0A): 2,
    (0xFF, 0xFF): 2,
    (0xFF, 0x16): 8,
    (0xFF, 0x0F): 1,
    (0xFF, 0xFE): 1,
    (0xFF, 0x0B): 1,
}


def read_channels(data: bytes, layout: Layout) -> list[Channel]:
    """Every (channel id, channel type, body) of a Milesight frame, in order.

    The whole frame is checked before anything is read from it, so a frame cut short or with
    a channel we do not know yields no half-read values.
    """
    if not data:
        raise CodecError("empty payload")
    channels, problem = scan_channels(data, layout)
    if problem is not None:
        raise CodecError(problem)
    return channels


def scan_channels(data: bytes, layout: Layout) -> tuple[list[Channel], str | None]:
    """The channels of a frame up to the first one that cannot be read, and why it cannot
    (None when the whole frame was read)."""
    channels: list[Channel] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            return channels, f"frame ends inside the channel header at byte {offset}"
        channel_id, channel_type = data[offset], data[offset + 1]
        size = layout.get((channel_id, channel_type))
        name = f"channel 0x{channel_id:02x} type 0x{channel_type:02x}"
        if size is None:
            return channels, f"unknown {name} at byte {offset}"
        rest = data[offset + 2 :]
        try:
            length = size if isinstance(size, int) else size(rest)
        except CodecError as error:
            return channels, error.detail
        if len(rest) < length:
            return channels, f"{name} needs {length} bytes, {len(rest)} left"
        channels.append((channel_id, channel_type, rest[:length]))
        offset += 2 + length
    return channels, None


# What a channel's body says, in the vendor decoder's names; it never raises, so that a frame
# can always be described, odd values included.
Describer = Callable[[bytes], Mapping[str, object]]


def describe_frame(
    data: bytes, layout: Layout, describers: Mapping[tuple[int, int], Describer]
) -> dict[str, object]:
    """What a Milesight frame holds, in the vendor's names (see `describe_channels`), and where
    reading stopped, as `unreadable`, when the frame cannot be read to its end."""
    channels, problem = scan_channels(data, layout)
    out = describe_channels(channels, describers)
    if problem is not None or not data:
        out["unreadable"] = problem or "empty payload"
    return out


def describe_channels(
    channels: list[Channel], describers: Mapping[tuple[int, int], Describer]
) -> dict[str, object]:
    """Channels in the vendor decoder's names: a channel without a describer as
    `channel_<id>_<type>` in hex, a repeated channel's lists (history records) joined."""
    out: dict[str, object] = {}
    for channel_id, channel_type, body in channels:
        describer = describers.get((channel_id, channel_type))
        if describer is None:
            out[f"channel_{channel_id:02x}_{channel_type:02x}"] = body.hex()
            continue
        for key, value in describer(body).items():
            out[key] = _joined(out.get(key), value)
    return out


def _joined(earlier: object, value: object) -> object:
    """A list joined to the list a channel gave before (history records), else the value."""
    if isinstance(earlier, list) and isinstance(value, list):
        return [*earlier, *value]
    return value


def u16(body: bytes, start: int) -> int:
    """The little-endian unsigned 16-bit integer at `start`."""
    return int.from_bytes(body[start : start + 2], "little")


def count_value(value: object, name: str, limit: int) -> int | None:
    """A counter from a decoded object: None when absent, else a whole number in [0, limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{name}: expected a count (got {value!r})")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise CodecError(f"{name}: expected a whole number (got {value!r})")
    # A counter beyond the device's field width cannot have come from the device.
    if not 0 <= value < limit:
        raise CodecError(f"{name}: {value!r} is outside the device's range 0..{limit - 1}")
    return int(value)


_LINES = 4
_U32 = 2**32
_U16 = 2**16

# (channel id, channel type) -> (line, what the body holds).
_LINE_FIELDS: Mapping[tuple[int, int], tuple[int, str]] = {
    (0x03 + 3 * index + step, channel_type): (index + 1, field)
    for index in range(_LINES)
    for step, channel_type, field in (
        (0, 0xD2, "total_in"),
        (1, 0xD2, "total_out"),
        (2, 0xCC, "period"),
    )
}
_LAYOUT: Layout = {
    **dict.fromkeys(_LINE_FIELDS, 4),
    (0x0F, 0xE3): 4,  # region 1-4 occupancy, 1 byte each
    (0x10, 0xE4): 5,  # region (1 byte), average and maximum dwell (2 bytes each)
}
# Vendor object field -> (our name, the device's field width).
_OBJECT_FIELDS: Mapping[str, tuple[str, int]] = {
    "total_in": ("total_in", _U32),
    "total_out": ("total_out", _U32),
    "period_in": ("count_in", _U16),
    "period_out": ("count_out", _U16),
}


class MilesightVs133:
    """Bytes or a vendor-decoded object from a VS133 -> one pedestrian reading per line."""

    name = "milesight-vs133"
    kind: Kind = "pedestrian"

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]:
        """Line counters in `data`; the FPort is not checked, as it is a device setting."""
        lines: dict[int, dict[str, object]] = {}
        for channel_id, channel_type, body in read_channels(data, _LAYOUT):
            where = _LINE_FIELDS.get((channel_id, channel_type))
            if where is not None:  # region occupancy and dwell time are not walkers passing
                line, field = where
                lines.setdefault(line, {}).update(_line_field(field, body))
        return self._readings(lines)

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]:
        """The frame in Milesight's flat names (`line_1_total_in`, `region_1_count`, ...)."""
        return describe_frame(data, _LAYOUT, _DESCRIBERS)

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]:
        """Line counters from the vendor's object, nested (`line_1.total_in`, as The Things
        Stack's decoder writes) or flat (`line_1_total_in`, as Milesight's own decoder writes).
        """
        lines = {line: _object_line(obj, line) for line in range(1, _LINES + 1)}
        return self._readings(lines)

    def _readings(self, lines: Mapping[int, Mapping[str, object]]) -> list[CodecReading]:
        return [
            CodecReading(kind=self.kind, values={"line": line, **values})
            for line, values in sorted(lines.items())
            if values
        ]


def _line_field(field: str, body: bytes) -> dict[str, object]:
    if field == "period":
        return {
            "count_in": int.from_bytes(body[0:2], "little"),
            "count_out": int.from_bytes(body[2:4], "little"),
        }
    return {field: int.from_bytes(body, "little")}


def _describe_line_field(line: int, field: str) -> Describer:
    if field == "period":
        return lambda body: {
            f"line_{line}_period_in": u16(body, 0),
            f"line_{line}_period_out": u16(body, 2),
        }
    return lambda body: {f"line_{line}_{field}": int.from_bytes(body, "little")}


def _describe_regions(body: bytes) -> dict[str, object]:
    return {f"region_{n}_count": count for n, count in enumerate(body, start=1)}


def _describe_dwell(body: bytes) -> dict[str, object]:
    region = body[0]
    return {f"region_{region}_avg_dwell": u16(body, 1), f"region_{region}_max_dwell": u16(body, 3)}


_DESCRIBERS: Mapping[tuple[int, int], Describer] = {
    **{key: _describe_line_field(line, field) for key, (line, field) in _LINE_FIELDS.items()},
    (0x0F, 0xE3): _describe_regions,
    (0x10, 0xE4): _describe_dwell,
}


def _object_line(obj: Mapping[str, object], line: int) -> dict[str, object]:
    nested = obj.get(f"line_{line}")
    if nested is None:  # absent, or null as some decoders write an empty line
        nested = {}
    if not isinstance(nested, Mapping):
        raise CodecError(f"line_{line}: expected an object (got {nested!r})")
    values: dict[str, object] = {}
    for vendor, (ours, limit) in _OBJECT_FIELDS.items():
        count = count_value(nested.get(vendor), f"line_{line}.{vendor}", limit)
        if count is None:
            count = count_value(obj.get(f"line_{line}_{vendor}"), f"line_{line}_{vendor}", limit)
        if count is not None:
            values[ours] = count
    return values


CODEC = MilesightVs133()
