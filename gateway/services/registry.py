"""The site's bins and meters as arrays, the rules from the policy and the registry, and
validated readings turned into the batches the controllers' rules take."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controllers.services.bins import BinBatch, BinRules
from controllers.services.water import FLAGS, WaterBatch, WaterRules
from controllers.settings import Policy, SiteConfig
from controllers.settings.schedule import WEEKDAYS
from controllers.settings.site import Device
from gateway.ingest.readings import BinReading, WaterReading

# A distance this far (as a share of the bin's depth) beyond its empty or full geometry is out
# of the sensor's range: a reflection off the lid, a bag over the sensor. Flagged, not used.
OUT_OF_RANGE_SHARE = 0.1
# Alarms after which a bin's distance says nothing about its fill.
BLIND_ALARMS = frozenset({"sensor_error", "lid_open"})
_FLAG_BITS = {name: 1 << bit for bit, name in enumerate(FLAGS)}


@dataclass(frozen=True, eq=False)
class Fleet:
    """Devices of one kind, in a fixed order: index i of every array is `ids[i]`."""

    ids: tuple[str, ...]
    devices: tuple[Device, ...]
    positions: dict[str, int]

    @staticmethod
    def of(site: SiteConfig, kind: str) -> "Fleet":
        found = sorted((i, d) for i, d in site.devices.items() if d.kind == kind)
        ids = tuple(i for i, _ in found)
        return Fleet(ids, tuple(d for _, d in found), {i: n for n, i in enumerate(ids)})

    @property
    def size(self) -> int:
        return len(self.ids)


def bin_rules(bins: Fleet, policy: Policy) -> BinRules:
    """Per-bin thresholds (the registry's, else the policy's; each keeps the policy's band)."""
    p = policy.bins
    full_on = np.array([d.full_at if d.full_at is not None else p.full_at for d in bins.devices])
    empty_on = np.array(
        [d.empty_at if d.empty_at is not None else p.empty_at for d in bins.devices]
    )
    days = np.array(
        [[day in d.collection_days for day in WEEKDAYS] for d in bins.devices], dtype=bool
    ).reshape(bins.size, 7)
    return BinRules(
        full_on=full_on.astype(np.float64),
        full_off=(full_on - (p.full_at - p.full_clear)).astype(np.float64),
        empty_on=empty_on.astype(np.float64),
        empty_off=(empty_on + (p.empty_clear - p.empty_at)).astype(np.float64),
        collection_days=days,
        emptying_drop=p.emptying_drop,
        emptying_rearm=p.emptying_rearm,
        min_cycle_readings=p.min_cycle_readings,
        min_cycle_span_s=p.min_cycle_span_s,
        max_forecast_s=p.max_forecast_s,
        collection_late_s=p.collection_late_s,
        fire_temperature_c=p.fire_temperature_c,
        fire_rise_c=p.fire_rise_c,
    )


def water_rules(meters: Fleet, policy: Policy) -> WaterRules:
    """Per-meter Q3, resolution and exemption (the registry's, else the policy's)."""
    w = policy.water
    q3 = [d.q3_m3h if d.q3_m3h is not None else w.q3_m3h for d in meters.devices]
    step = [
        d.resolution_m3 if d.resolution_m3 is not None else w.resolution_m3 for d in meters.devices
    ]
    return WaterRules(
        q3_m3h=np.array(q3, dtype=np.float64),
        resolution_m3=np.array(step, dtype=np.float64),
        continuous_flow_expected=np.array(
            [d.continuous_flow_expected for d in meters.devices], dtype=bool
        ),
        leak_sensitivity=w.leak_sensitivity,
        leak_window_h=w.leak_window_h,
        leak_min_known_h=w.leak_min_known_h,
        burst_share=w.burst_share,
        burst_duration_s=w.burst_duration_s,
        stopped_after_s=w.stopped_after_s,
        max_gap_s=w.max_gap_s,
        night_start_h=w.night_start_h,
        night_end_h=w.night_end_h,
        consumption_factor=w.consumption_factor,
        consumption_period_s=w.consumption_period_s,
        history_periods=w.history_periods,
    )


def bin_batch(bins: Fleet, taken: Sequence[BinReading]) -> BinBatch:
    """Readings of registered bins as one batch; each flagged invalid when its fill cannot be
    trusted (out of range, lid open, sensor error, lying on its side). Readings of one bin at
    one instant are one reading, the last: a rule takes one reading per bin and time."""
    readings = list({(r.device_id, r.ts_s): r for r in taken}.values())
    fill = np.array([_raw_fill(bins.devices[bins.positions[r.device_id]], r) for r in readings])
    valid = np.array([_trusted(bins.devices[bins.positions[r.device_id]], r) for r in readings])
    return BinBatch(
        index=np.array([bins.positions[r.device_id] for r in readings], dtype=np.int64),
        ts_s=np.array([r.ts_s for r in readings], dtype=np.float64),
        fill=fill.astype(np.float64).reshape(-1),
        temperature_c=np.array(
            [np.nan if r.temperature_c is None else r.temperature_c for r in readings],
            dtype=np.float64,
        ),
        tilt=np.array([-1 if r.tilt is None else int(r.tilt) for r in readings], dtype=np.int8),
        valid=valid.astype(bool).reshape(-1) & np.isfinite(fill.astype(np.float64)).reshape(-1),
    )


def _raw_fill(device: Device, reading: BinReading) -> float:
    """The fill before clamping (so that out of range can be seen); NaN when unknown."""
    empty, full, distance = device.empty_distance_mm, device.full_distance_mm, reading.distance_mm
    if distance is not None and empty is not None and full is not None:
        return (empty - distance) / (empty - full)
    return np.nan if reading.fill_ratio is None else reading.fill_ratio


def _trusted(device: Device, reading: BinReading) -> bool:
    if reading.tilt or BLIND_ALARMS.intersection(reading.alarms):
        return False
    fill = _raw_fill(device, reading)
    return bool(-OUT_OF_RANGE_SHARE <= fill <= 1.0 + OUT_OF_RANGE_SHARE)


def water_batch(meters: Fleet, readings: Sequence[WaterReading]) -> WaterBatch:
    """Readings of registered meters as one batch: the signed volume since each meter's last
    reading (NaN: a first reading or a new meter, a new baseline), flow and the meter's flags.

    Readings of one meter at one instant become one: a rule takes one reading per meter and
    time, and the later ones would be ignored with their volumes. They come together when a
    meter's queued messages carry no time of their own (a backlog delivered at once takes its
    arrival time): their volumes add up, their flags too, the last flow reported stands."""
    merged: dict[tuple[str, float], tuple[float, float, int]] = {}
    for r in readings:
        volume, flow, flags = _volume_m3(r), r.flow_m3h, _flags(r.alarms)
        key = (r.device_id, r.ts_s)
        if key in merged:
            was_volume, was_flow, was_flags = merged[key]
            volume, flags = was_volume + volume, was_flags | flags  # NaN stays: a new baseline
            flow = was_flow if flow is None else flow
        merged[key] = (volume, np.nan if flow is None else flow, flags)
    return WaterBatch(
        index=np.array([meters.positions[d] for d, _ in merged], dtype=np.int64),
        ts_s=np.array([ts for _, ts in merged], dtype=np.float64),
        volume_m3=np.array([v for v, _, _ in merged.values()], dtype=np.float64),
        flow_m3h=np.array([f for _, f, _ in merged.values()], dtype=np.float64),
        flags=np.array([g for _, _, g in merged.values()], dtype=np.int64),
    )


def _volume_m3(reading: WaterReading) -> float:
    if reading.delta_m3 is not None:
        return reading.delta_m3
    if reading.event == "backflow" and reading.decrease_m3 is not None:
        return -reading.decrease_m3
    return np.nan


def _flags(alarms: Sequence[str]) -> int:
    return sum(_FLAG_BITS.get(alarm, 0) for alarm in set(alarms))
