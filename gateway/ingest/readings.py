"""The three reading kinds the gateway stores, and the rules that turn decoded values into them.

Devices report in their own terms: cumulative counters that wrap or reset, distances instead
of fill, meter indexes that roll over or restart with a new meter. `Normaliser` keeps the little
state those rules need, per device, and yields validated readings with units in the names.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from controllers.settings.site import Device
from gateway.formats.base import Decoded
from gateway.wire.payloads import Direction

_READING = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

# Counter widths seen on devices; a drop from near the top to near zero is a wrap, not a reset.
_COUNTER_WIDTHS = (2**16, 2**24, 2**32)
# Meter registers roll over at a power of ten (99 999 m³ → 0).
_METER_ROLLOVERS_M3 = tuple(10.0**k for k in range(4, 10))
_NEAR_TOP = 0.9
_NEAR_ZERO = 0.1
# An index that goes back by at most this much is water that ran back through the meter (a
# household backflow is litres, not cubic metres); further back, and not a rollover, it is a
# new meter starting from its own zero.
BACKFLOW_MAX_M3 = 1.0


class PedestrianReading(BaseModel):
    """Walkers counted on a device's segment over `period_s` (0: one detection event)."""

    model_config = _READING
    device_id: str
    segment: str
    ts_s: float
    count: int = Field(ge=0)
    period_s: float = Field(ge=0)
    direction: Direction | None = None
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
    flow_m3h: float | None = None  # signed: below zero, water runs backwards through it
    alarms: tuple[str, ...] = ()
    event: Literal["rollover", "meter_replaced", "backflow"] | None = None
    decrease_m3: float | None = Field(default=None, ge=0)  # with "backflow": how far it went back


Reading = PedestrianReading | BinReading | WaterReading


# A period count, the cumulative total that covers the same walkers, and their direction.
_PAIRS: tuple[tuple[str, str, Direction | None], ...] = (
    ("count", "total", None),
    ("count_in", "total_in", "forward"),
    ("count_out", "total_out", "backward"),
)


class _Total(NamedTuple):
    """A counter's last cumulative total and when it was counted."""

    total: int
    ts_s: float


class Normaliser:
    """Per-device state for counters and meters; `readings()` is called in arrival order."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], _Total] = {}  # (counter, total key) → last
        self._meters: dict[str, tuple[float, float]] = {}  # device → (index m³, at ts_s)

    def remember_meter(self, device_id: str, total_m3: float, ts_s: float) -> None:
        """A meter's last index as a previous run saw it (restored at start-up), so that its
        next reading yields a volume rather than a new baseline."""
        if device_id not in self._meters:
            self._meters[device_id] = (total_m3, ts_s)

    def readings(
        self, device_id: str, device: Device, decoded: Decoded, received_s: float
    ) -> list[Reading]:
        """The readings one decoded record yields (maybe none: see `_walkers`)."""
        ts_s = decoded.ts_s if decoded.ts_s is not None else received_s
        values = decoded.values
        if decoded.kind == "pedestrian":
            return self._pedestrian(device_id, device.segment, ts_s, values)
        if decoded.kind == "bin":
            return [_bin(device_id, device, ts_s, values)]
        return [self._water(device_id, device.segment, ts_s, values)]

    def _pedestrian(
        self, device_id: str, segment: str, ts_s: float, values: Mapping[str, object]
    ) -> list[Reading]:
        # Each counting line (a VS133 has four) is its own counter; most devices have one.
        counter = f"{device_id}#{values.get('line', 0)}"
        period_s = float(_number(values.get("period_s", 0.0)))
        out: list[Reading] = []
        for count_key, total_key, paired in _PAIRS:
            found = self._walkers(counter, ts_s, values, count_key, total_key)
            if found is None:
                continue
            direction = _direction(values.get("direction")) if count_key == "count" else paired
            out.append(
                PedestrianReading(
                    device_id=device_id,
                    segment=segment,
                    ts_s=ts_s,
                    count=found[0],
                    period_s=period_s,
                    direction=direction,
                    counter_reset=found[1],
                )
            )
        return out

    def _walkers(
        self,
        counter: str,
        ts_s: float,
        values: Mapping[str, object],
        count_key: str,
        total_key: str,
    ) -> tuple[int, bool] | None:
        """(walkers, whether the counter was reset) that one record proves in one direction;
        None when it proves none.

        The walkers of a period are counted once: by the totals' delta where the counter's
        totals cover that time (they also cover uplinks that were lost), else by the period
        count. So in a frame with both, the totals win; but a counter's first total is only
        a baseline, and then the frame's period count is what counts (a zero proves nobody, so
        it makes no reading). A period count without its total, at or before the counter's
        last total (a logged record resent late), is already inside a delta.
        """
        period = values.get(count_key)
        count = None if period is None else int(_number(period))
        key = (counter, total_key)
        if total_key in values:
            first = key not in self._counters
            delta = self._delta(key, int(_number(values[total_key])), ts_s)
            if not first:
                return delta
            return (count, False) if count else None
        last = self._counters.get(key)
        if count is None or (last is not None and ts_s <= last.ts_s):
            return None
        return count, False

    def _delta(self, key: tuple[str, str], total: int, ts_s: float) -> tuple[int, bool] | None:
        """(walkers since the last total, whether the counter was reset); None the first time,
        and for a total older than the last one (a logged record: its walkers are in the
        deltas already made, and comparing it would look like a reset)."""
        last = self._counters.get(key)
        if last is not None and ts_s < last.ts_s:
            return None
        self._counters[key] = _Total(total, ts_s)
        if last is None:
            return None
        if total >= last.total:
            return total - last.total, False
        for width in _COUNTER_WIDTHS:
            if _NEAR_TOP * width <= last.total < width and total < _NEAR_ZERO * width:
                return total + width - last.total, False
        return total, True  # the device restarted its count: what it has now is new

    def _water(
        self, device_id: str, segment: str, ts_s: float, values: Mapping[str, object]
    ) -> WaterReading:
        total_m3 = float(_number(values["total_m3"]))
        last, last_ts_s = self._meters.get(device_id, (None, -math.inf))
        delta: float | None = None
        decrease: float | None = None
        event: Literal["rollover", "meter_replaced", "backflow"] | None = None
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
            if rollover:
                delta, event = total_m3 + rollover - last, "rollover"
            elif last - total_m3 <= BACKFLOW_MAX_M3:
                decrease, event = last - total_m3, "backflow"
            else:
                event = "meter_replaced"
        return WaterReading(
            device_id=device_id,
            segment=segment,
            ts_s=ts_s,
            total_m3=total_m3,
            delta_m3=delta,
            flow_m3h=_optional(values.get("flow_m3h")),
            alarms=_alarms(values),
            event=event,
            decrease_m3=decrease,
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


def _direction(value: object) -> Direction | None:
    return "forward" if value == "forward" else "backward" if value == "backward" else None


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
