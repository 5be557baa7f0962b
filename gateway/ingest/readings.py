"""The three reading kinds the gateway stores, and the rules that turn decoded values into them.

Devices report in their own terms: cumulative counters that wrap or reset, distances instead
of fill, meter indexes that roll over or restart with a new meter. `Normaliser` keeps the little
state those rules need, per device, and yields validated readings with units in the names.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controllers.settings.site import Device
from gateway.formats.base import Decoded

_READING = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

# Counter widths seen on devices; a drop from near the top to near zero is a wrap, not a reset.
_COUNTER_WIDTHS = (2**16, 2**24, 2**32)
# Meter registers roll over at a power of ten (99 999 m³ → 0).
_METER_ROLLOVERS_M3 = tuple(10.0**k for k in range(4, 10))
_NEAR_TOP = 0.9
_NEAR_ZERO = 0.1


class PedestrianReading(BaseModel):
    """Walkers counted on a device's segment over `period_s` (0: one detection event)."""

    model_config = _READING
    device_id: str
    segment: str
    ts_s: float
    count: int = Field(ge=0)
    period_s: float = Field(ge=0)
    direction: Literal["forward", "backward"] | None = None
    counter_reset: bool = False


class BinReading(BaseModel):
    """A bin's fill from its geometry, with the raw distance and alarms."""

    model_config = _READING
    device_id: str
    segment: str
    ts_s: float
    fill_ratio: float | None = Field(default=None, ge=0, le=1)
    distance_mm: float | None = Field(default=None, ge=0)
    temperature_c: float | None = None
    tilt: bool | None = None
    alarms: tuple[str, ...] = ()


class WaterReading(BaseModel):
    """A meter index in m³ (never decreasing within one meter), flow and alarms."""

    model_config = _READING
    device_id: str
    segment: str
    ts_s: float
    total_m3: float = Field(ge=0)
    delta_m3: float | None = Field(default=None, ge=0)
    flow_m3h: float | None = Field(default=None, ge=0)
    alarms: tuple[str, ...] = ()
    event: Literal["rollover", "meter_replaced"] | None = None


Reading = PedestrianReading | BinReading | WaterReading


class Normaliser:
    """Per-device state for counters and meters; `readings()` is called in arrival order."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], int] = {}
        self._meters: dict[str, tuple[float, float]] = {}  # device → (index m³, at ts_s)

    def readings(
        self, device_id: str, device: Device, decoded: Decoded, received_s: float, index: int = 0
    ) -> list[Reading]:
        """The readings one decoded record yields (none for a counter's first total).

        `index` is the record's place in its message: a counter with several lines (a VS133)
        sends one record per line, each with its own totals.
        """
        ts_s = decoded.ts_s if decoded.ts_s is not None else received_s
        values = decoded.values
        if decoded.kind == "pedestrian":
            return self._pedestrian(device_id, device.segment, ts_s, values, index)
        if decoded.kind == "bin":
            return [_bin(device_id, device, ts_s, values)]
        return [self._water(device_id, device.segment, ts_s, values)]

    def _pedestrian(
        self,
        device_id: str,
        segment: str,
        ts_s: float,
        values: Mapping[str, object],
        index: int,
    ) -> list[Reading]:
        period_s = float(_number(values.get("period_s", 0.0)))
        out: list[Reading] = []
        counts: list[tuple[int, str | None, bool]] = []
        # A frame with both cumulative totals and period counts counts the same walkers twice;
        # the totals win, since they also cover uplinks that were lost.
        has_totals = any(k in values for k in ("total", "total_in", "total_out"))
        for key, direction in (
            ("count", values.get("direction")),
            ("count_in", "forward"),
            ("count_out", "backward"),
        ):
            if key in values and not has_totals:
                counts.append((int(_number(values[key])), _direction(direction), False))
        for key, direction in (("total", None), ("total_in", "forward"), ("total_out", "backward")):
            if key in values:
                delta = self._delta(f"{device_id}#{index}", key, int(_number(values[key])))
                if delta is not None:
                    counts.append((delta[0], direction, delta[1]))
        for count, direction, reset in counts:
            out.append(
                PedestrianReading(
                    device_id=device_id,
                    segment=segment,
                    ts_s=ts_s,
                    count=count,
                    period_s=period_s,
                    direction=direction,
                    counter_reset=reset,
                )
            )
        return out

    def _delta(self, device_id: str, key: str, total: int) -> tuple[int, bool] | None:
        """(walkers since the last total, whether the counter was reset); None the first time."""
        last = self._counters.get((device_id, key))
        self._counters[(device_id, key)] = total
        if last is None:
            return None
        if total >= last:
            return total - last, False
        for width in _COUNTER_WIDTHS:
            if last >= _NEAR_TOP * width and last < width and total < _NEAR_ZERO * width:
                return total + width - last, False
        return total, True  # the device restarted its count: what it has now is new

    def _water(
        self, device_id: str, segment: str, ts_s: float, values: Mapping[str, object]
    ) -> WaterReading:
        total_m3 = float(_number(values["total_m3"]))
        last, last_ts_s = self._meters.get(device_id, (None, -math.inf))
        delta: float | None = None
        event: Literal["rollover", "meter_replaced"] | None = None
        if ts_s < last_ts_s:
            last = None  # a back-dated reading (a meter's hourly log): stored, not compared
        else:
            self._meters[device_id] = (total_m3, ts_s)
        if last is not None and total_m3 >= last:
            delta = total_m3 - last
        elif last is not None:
            rollover = next(
                (
                    r
                    for r in _METER_ROLLOVERS_M3
                    if _NEAR_TOP * r <= last < r and total_m3 < _NEAR_ZERO * r
                ),
                None,
            )
            delta, event = (
                (total_m3 + rollover - last, "rollover") if rollover else (None, "meter_replaced")
            )
        return WaterReading(
            device_id=device_id,
            segment=segment,
            ts_s=ts_s,
            total_m3=total_m3,
            delta_m3=delta,
            flow_m3h=_optional(values.get("flow_m3h")),
            alarms=_alarms(values),
            event=event,
        )


def _bin(device_id: str, device: Device, ts_s: float, values: Mapping[str, object]) -> BinReading:
    distance_mm = _optional(values.get("distance_mm"))
    fill = _optional(values.get("fill_ratio"))
    empty, full = device.empty_distance_mm, device.full_distance_mm
    if fill is None and distance_mm is not None and empty is not None and full is not None:
        # Closer surface, fuller bin; clamped because waste is not flat and sensors are noisy.
        fill = min(max((empty - distance_mm) / (empty - full), 0.0), 1.0)
    tilt = values.get("tilt")
    return BinReading(
        device_id=device_id,
        segment=device.segment,
        ts_s=ts_s,
        fill_ratio=fill,
        distance_mm=distance_mm,
        temperature_c=_optional(values.get("temperature_c")),
        tilt=tilt if isinstance(tilt, bool) else None,
        alarms=_alarms(values),
    )


def _number(value: object) -> float:
    if type(value) is float:  # the common case, without the checks below
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number (got {value!r})")
    return float(value)


def _optional(value: object) -> float | None:
    return None if value is None else _number(value)


def _direction(value: object) -> str | None:
    return value if value in ("forward", "backward") else None


def _alarms(values: Mapping[str, object]) -> tuple[str, ...]:
    alarms = values.get("alarms", ())
    if not alarms:
        return ()
    return tuple(sorted({str(a) for a in alarms})) if isinstance(alarms, list | tuple) else ()


@dataclass(frozen=True)
class Spooled:
    """One reading to store, with the key of the uplink it came from (None: no key known) and
    its place among that uplink's readings (a frame may carry several)."""

    reading: Reading
    uplink: str | None
    ordinal: int = 0
