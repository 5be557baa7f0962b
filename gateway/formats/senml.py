"""SenML JSON packs (RFC 8428) → readings, chosen by measurement name and unit.

Resolution (RFC 8428 §4.1, §4.5, §4.6): a base field applies to its record and to the records
after it, up to the next record with the same base field. Name = bn + n; time = bt + t, and a
resolved time below 2**28 is relative to `now_s` (negative: in the past); unit = u, else bu;
value = bv + v. A record with no value field and no sum only carries base fields (§5.1.7 starts
so). `bver` defaults to 10: a higher version, or two versions in one pack, refuses the pack.
Unknown fields are ignored, except labels ending in '_', which refuse the whole pack (§4.4).

Our mapping (not RFC): a resolved name is `<device><sep><measurement>`, sep being its last ':'
or '/'. The device is the network id (`urn:dev:ow:10e2073a01080063:count` → device
`urn:dev:ow:10e2073a01080063`, measurement `count`); `_MEASUREMENTS` maps (measurement, unit) to
a value. A record that maps to nothing is ignored, but a pack that maps to nothing at all is
refused (no_readings). Records of one device, kind and time make one reading; a temperature
alone makes no bin reading (a temperature and humidity pack is a climate sensor's).
"""

import re
from dataclasses import dataclass, replace

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import REQUIRED_ANY, b64_bytes, make_decoded, parse_json, real
from gateway.formats.message import Message
from gateway.wire.payloads import Kind

_VERSION = 10
_RELATIVE_BELOW_S = 2.0**28
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")
_TEXT_FIELDS = frozenset({"bn", "bu", "n", "u", "vs", "vd"})
_NUMBER_FIELDS = frozenset({"bt", "bv", "bs", "bver", "v", "s", "t", "ut"})
_VALUE_FIELDS = ("v", "vs", "vb", "vd")


@dataclass(frozen=True)
class _Target:
    """Where a measurement goes: value × scale + offset, under `key` of a `kind` reading."""

    kind: Kind
    key: str
    scale: float = 1.0
    offset: float = 0.0


def _counted(key: str) -> dict[str | None, _Target]:
    # A count is dimensionless: unit "count", "/" (ratio 1) or none at all is the same thing.
    return {unit: _Target("pedestrian", key) for unit in ("count", "/", None)}


_TOTAL_M3: dict[str | None, _Target] = {
    "m3": _Target("water", "total_m3"),
    "l": _Target("water", "total_m3", 0.001),
}
# (measurement, unit) → target. Units are SenML's (RFC 8428 §12.1) plus "mm".
_MEASUREMENTS: dict[str, dict[str | None, _Target]] = {
    "count": _counted("count"),
    "count_in": _counted("count_in"),
    "count_out": _counted("count_out"),
    "total_in": _counted("total_in"),
    "total_out": _counted("total_out"),
    # "total" alone is a walkers' counter or a meter index: only its unit tells which.
    "total": _TOTAL_M3
    | {"count": _Target("pedestrian", "total"), "/": _Target("pedestrian", "total")},
    "volume": _TOTAL_M3,
    "flow": {
        "m3/s": _Target("water", "flow_m3h", 3600.0),
        "l/s": _Target("water", "flow_m3h", 3.6),
    },
    "distance": {"m": _Target("bin", "distance_mm", 1000.0), "mm": _Target("bin", "distance_mm")},
    "fill": {"%": _Target("bin", "fill_ratio", 0.01), "/": _Target("bin", "fill_ratio")},
    "temperature": {
        "Cel": _Target("bin", "temperature_c"),
        "K": _Target("bin", "temperature_c", offset=-273.15),
    },
}
_BOOLEANS = {"tilt": _Target("bin", "tilt")}  # `vb` records, whatever their unit
# What makes a reading of each kind. A temperature makes none by itself: nearly every sensor
# measures one (a climate sensor's pack of temperature and humidity is no bin), so it only
# joins the bin reading of a distance, fill or tilt of the same device and time.
_MAKES_READING: dict[Kind, frozenset[str]] = {
    **REQUIRED_ANY,
    "bin": REQUIRED_ANY["bin"] - {"temperature_c"},
}


@dataclass(frozen=True)
class _Base:
    name: str = ""
    time_s: float = 0.0
    unit: str | None = None
    value: float = 0.0
    version: int = _VERSION


@dataclass(frozen=True)
class _Record:
    name: str
    unit: str | None
    ts_s: float
    value: float | None  # from v (+ bv); None for vs, vb, vd and sum-only records
    boolean: bool | None  # from vb


def decode(message: Message) -> list[Decoded]:
    """The readings of one SenML pack; relative times are counted from its arrival."""
    return decode_pack(message.payload, now_s=message.received_s)


def decode_pack(payload: bytes, now_s: float) -> list[Decoded]:
    """The readings of one SenML JSON pack, with "now" (for relative times) given."""
    pack = parse_json(payload)
    if not isinstance(pack, list):
        raise DecodeError("invalid", "a SenML pack is a JSON array of records")
    records = _resolve(pack, now_s)
    groups = _grouped(records)
    out = [
        make_decoded(device, kind, ts_s, values, dedup_key=None, source="senml", reason="invalid")
        for (device, kind, ts_s), slots in groups.items()
        for values in slots
        if values.keys() & _MAKES_READING[kind]  # e.g. a flow without the meter index
    ]
    if not out:
        raise DecodeError("no_readings", _why_nothing(records, groups))
    return out


def resolved(payload: bytes, now_s: float) -> list[dict[str, object]]:
    """The pack's measurement records with their base fields applied (RFC 8428 §4.6): name,
    time, unit and value of each, as `decode_pack` reads them."""
    pack = parse_json(payload)
    if not isinstance(pack, list):
        raise DecodeError("invalid", "a SenML pack is a JSON array of records")
    return [
        {
            key: value
            for key, value in (
                ("n", record.name),
                ("t", record.ts_s),
                ("u", record.unit),
                ("v", record.value),
                ("vb", record.boolean),
            )
            if value is not None
        }
        for record in _resolve(pack, now_s)
    ]


def _why_nothing(
    records: list[_Record], groups: dict[tuple[str, Kind, float], list[dict[str, object]]]
) -> str:
    alone = sorted({device for (device, kind, _), _ in groups.items() if kind == "bin"})
    if alone:
        return (
            f"temperature alone is not a bin reading ({_few(alone)}): a bin sends a distance"
            " or fill with it"
        )
    names = sorted({record.name for record in records})
    return f"no record maps to a measurement (names: {_few(names)})"


def _resolve(pack: list[object], now_s: float) -> list[_Record]:
    base = _Base()
    out = []
    for index, raw in enumerate(pack):
        if not isinstance(raw, dict):
            raise DecodeError("invalid", f"record {index} is not a JSON object")
        _check_fields(raw, index)
        base = _with_base_fields(base, raw, index)
        if any(field in raw for field in (*_VALUE_FIELDS, "s")):
            out.append(_record(raw, base, now_s, index))
    return out


def _check_fields(raw: dict[str, object], index: int) -> None:
    for label, value in raw.items():
        if label in _TEXT_FIELDS:
            ok = isinstance(value, str)
        elif label in _NUMBER_FIELDS:
            ok = real(value) is not None
        elif label == "vb":
            ok = isinstance(value, bool)
        elif label.endswith("_"):  # RFC 8428 §4.4: a must-understand field we do not know
            raise DecodeError("unsupported", f"record {index}: unknown field {label!r:.40}")
        else:
            ok = True  # §4.4: unknown fields are ignored
        if not ok:
            raise DecodeError(
                "invalid", f"record {index}: {label} has the wrong type ({value!r:.40})"
            )
    if sum(field in raw for field in _VALUE_FIELDS) > 1:
        raise DecodeError("invalid", f"record {index}: more than one value field (§4.2)")


def _with_base_fields(base: _Base, raw: dict[str, object], index: int) -> _Base:
    if "bver" in raw:
        base = replace(base, version=_version(_number(raw, "bver"), base, index))
    if "bn" in raw:
        base = replace(base, name=str(raw["bn"]))
    if "bt" in raw:
        base = replace(base, time_s=_number(raw, "bt"))
    if "bu" in raw:
        base = replace(base, unit=str(raw["bu"]))
    if "bv" in raw:
        base = replace(base, value=_number(raw, "bv"))
    return base


def _version(version: float, base: _Base, index: int) -> int:
    if not version.is_integer() or version < 1:
        raise DecodeError("invalid", f"record {index}: bver must be a positive integer")
    if version > _VERSION:
        raise DecodeError("unsupported", f"SenML version {version:.0f} is newer than {_VERSION}")
    if index > 0 and version != base.version:
        raise DecodeError("invalid", f"record {index}: bver differs within the pack (§4.4)")
    return int(version)


def _number(raw: dict[str, object], label: str) -> float:
    """A numeric field already type-checked by `_check_fields` (0 when absent, as §4.5 says)."""
    value = real(raw.get(label, 0.0))
    return 0.0 if value is None else value


def _record(raw: dict[str, object], base: _Base, now_s: float, index: int) -> _Record:
    name = base.name + str(raw.get("n", ""))
    if not _NAME.fullmatch(name):
        raise DecodeError("invalid", f"record {index}: {name!r:.60} is not a SenML name (§4.5.1)")
    ts_s = base.time_s + _number(raw, "t")
    if ts_s < _RELATIVE_BELOW_S:
        ts_s += now_s  # §4.5.3: relative to "now"
    if "vd" in raw:
        b64_bytes(raw["vd"], f"record {index}: vd")  # checked, never used
    unit = raw.get("u", base.unit)
    boolean = raw.get("vb")
    return _Record(
        name=name,
        unit=unit if isinstance(unit, str) else None,
        ts_s=ts_s,
        value=base.value + _number(raw, "v") if "v" in raw else None,
        boolean=boolean if isinstance(boolean, bool) else None,
    )


def _grouped(records: list[_Record]) -> dict[tuple[str, Kind, float], list[dict[str, object]]]:
    """Values by (device, kind, time); the same value twice at one time starts another reading
    rather than overwrite the first."""
    groups: dict[tuple[str, Kind, float], list[dict[str, object]]] = {}
    for record in records:
        mapped = _mapped(record)
        if mapped is None:
            continue
        device, target, value = mapped
        slots = groups.setdefault((device, target.kind, record.ts_s), [{}])
        if target.key in slots[-1]:
            slots.append({})
        slots[-1][target.key] = value
    return groups


def _mapped(record: _Record) -> tuple[str, _Target, object] | None:
    """(device, target, value) of a record, or None when it is not one of ours."""
    cut = max(record.name.rfind(":"), record.name.rfind("/"))
    if cut <= 0:
        return None  # no device part: nothing to address the reading to
    device, measurement = record.name[:cut], record.name[cut + 1 :]
    if measurement in _BOOLEANS and record.boolean is not None:
        return device, _BOOLEANS[measurement], record.boolean
    target = _MEASUREMENTS.get(measurement, {}).get(record.unit)
    if target is None or record.value is None:
        return None
    if target.scale == 1.0 and target.offset == 0.0:
        return device, target, record.value
    # Rounded so that a conversion stores 26.85, not 26.850000000000023 (far below any sensor).
    return device, target, round(record.value * target.scale + target.offset, 9)


def _few(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
