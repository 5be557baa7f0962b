"""A month of a district's bins and water meters: native MQTT messages in time order, and the
ground truth they were made from.

`ServicesDevices(world)` draws every reading up front, as [devices, reports] arrays (a few
tens of MB for 300 + 300 devices), and keeps the truth; `messages()` then serialises them
lazily, one `BinPayload` or `WaterPayload` (the gateway's own wire models) per report, the two
kinds merged by time. Reports come every `report_period_s` from a random phase per device.
Calling `messages()` twice gives the same messages.
"""

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gateway.wire.payloads import BinPayload, WaterPayload
from gateway.wire.topics import Topics
from sim.devices.services_bins import BinReadings, FillModel, bin_readings, fill_model
from sim.devices.services_meters import MeterReadings, hourly_volume, meter_readings
from sim.world.services_district import ServicesWorld
from sim.world.services_parts import Float32Array, FloatArray, Times


class ServiceMessage(NamedTuple):
    """One MQTT message: its topic, its JSON body and when the device sent it."""

    topic: str
    payload: bytes
    ts_s: float


@dataclass(frozen=True, eq=False)
class ServicesTruth:
    """What really happened. Times are epoch seconds; hourly arrays have one column per hour
    edge of the run (`start_s + 3600 h`, the end included)."""

    start_s: float
    end_s: float
    timezone: str
    full_at: float
    bin_period_s: float
    meter_period_s: float
    bin_ids: tuple[str, ...]
    meter_ids: tuple[str, ...]
    emptyings: list[tuple[str, float]]  # (bin, when the truck emptied it)
    emptied_from: list[float]  # the fill it had then, one per emptying
    missed_pickups: list[tuple[str, float]]  # (bin, scheduled time)
    visits: list[tuple[str, float, bool]]  # (bin, scheduled time, collected)
    fill: Float32Array  # [bins, hours + 1]: true fill at each hour edge
    fulls: list[tuple[str, float]]  # (bin, when its fill rose to full_at), once per cycle
    overflows: list[tuple[str, float]]  # (bin, when it reached 1.0), once per cycle
    fires: list[tuple[str, float, float]]  # (bin, first hot reading, last hot reading)
    tilts: list[tuple[str, float, float]]  # (bin, first tilted reading, last tilted reading)
    leaks: list[tuple[str, float, float | None, float]]  # (meter, start, end or None, m³/h)
    bursts: list[tuple[str, float, float, float]]  # (meter, start, end, m³/h)
    backflows: list[tuple[str, float, float, float]]  # (meter, start, end, m³ run back)
    stopped: list[tuple[str, float]]  # (meter, stands still from)
    continuous: list[str]  # meters with legitimate continuous flow
    q3_m3h: dict[str, float]
    meter_volume: Float32Array  # [meters, hours]: m³ registered in each hour
    meter_days: float
    model: FillModel

    def bin_index(self, bin_id: str) -> int:
        return self.bin_ids.index(bin_id)

    def fill_at(self, bin_id: str, times_s: Times) -> FloatArray:
        """Exact true fill of `bin_id` at `times_s`."""
        return self.model.fill_at(self.bin_index(bin_id), times_s)

    def fill_before(self, bin_id: str, at_s: float) -> float:
        """The fill just before `at_s` (a visit then: what the truck found)."""
        return float(self.fill_at(bin_id, np.array([at_s - 1e-3]))[0])

    def gain_between(self, bin_id: str, from_s: float, to_s: float) -> float:
        """Fill a bin would gain from `from_s` to `to_s` if nobody emptied it (uncapped): the
        counterfactual of a skipped visit."""
        gain = self.model.gain_at(self.bin_index(bin_id), np.array([from_s, to_s]))
        return float(gain[1] - gain[0])


class ServicesDevices:
    """The district's bins and meters over the month of `world`."""

    def __init__(self, world: ServicesWorld) -> None:
        self.world = world
        rng = np.random.default_rng(world.readings_seed)
        self.model = fill_model(world)
        self.bins: BinReadings = bin_readings(world, self.model, rng)
        self.meters: MeterReadings = meter_readings(world, rng)
        self.truth = self._truth()
        site = world.site
        self._topics = Topics(site.broker.topic_prefix, site.site.id)

    @property
    def message_count(self) -> int:
        return int(self.bins.valid.sum() + self.meters.valid.sum())

    def bin_fill_readings(self, bin_id: str) -> list[tuple[float, float]]:
        """(ts, fill the distance reading says) of every report of `bin_id`, for plots."""
        bins, index = self.world.bins, self.world.bins.ids.index(bin_id)
        valid = self.bins.valid[index]
        fill = (bins.empty_mm - self.bins.distance_mm[index, valid]) / (
            bins.empty_mm - bins.full_mm
        )
        return list(zip(self.bins.times_s[index, valid].tolist(), fill.tolist(), strict=True))

    def messages(self) -> Iterator[ServiceMessage]:
        """Every report of the month, in time order (bins first at equal times)."""
        return heapq.merge(self._bin_messages(), self._meter_messages(), key=lambda m: m.ts_s)

    def _bin_messages(self) -> Iterator[ServiceMessage]:
        ids, readings = self.world.bins.ids, self.bins
        order = np.argsort(self.world.bins.phase_s, kind="stable")
        topics = [self._topics.sensor("bin", ids[b]) for b in order.tolist()]
        for j in range(readings.times_s.shape[1]):
            columns = (
                readings.times_s[order, j].tolist(),
                readings.valid[order, j].tolist(),
                readings.distance_mm[order, j].tolist(),
                readings.temperature_c[order, j].tolist(),
                readings.tilt[order, j].tolist(),
            )
            for topic, ts, valid, distance, temperature, tilt in zip(topics, *columns, strict=True):
                if not valid:
                    continue
                payload = BinPayload(
                    ts=ts,
                    seq=j,
                    distance_mm=distance,
                    temperature_c=temperature,
                    tilt=True if tilt else None,
                )
                yield ServiceMessage(topic, payload.model_dump_json(exclude_none=True).encode(), ts)

    def _meter_messages(self) -> Iterator[ServiceMessage]:
        ids, readings = self.world.meters.ids, self.meters
        order = np.argsort(self.world.meters.phase_s, kind="stable")
        topics = [self._topics.sensor("water", ids[m]) for m in order.tolist()]
        for k in range(readings.times_s.shape[1]):
            columns = (
                readings.times_s[order, k].tolist(),
                readings.valid[order, k].tolist(),
                (readings.litres[order, k] / 1000.0).tolist(),
                readings.flow_m3h[order, k].tolist(),
                readings.backflow[order, k].tolist(),
            )
            for topic, ts, valid, total, flow, backflow in zip(topics, *columns, strict=True):
                if not valid:
                    continue
                payload = WaterPayload(
                    ts=ts,
                    seq=k,
                    total_m3=total,
                    flow_m3h=flow,
                    alarms=["backflow"] if backflow else [],
                )
                body = payload.model_dump_json(exclude_defaults=True).encode()
                yield ServiceMessage(topic, body, ts)

    def _truth(self) -> ServicesTruth:
        world, model = self.world, self.model
        bins, meters, calendar = world.bins, world.meters, world.calendar
        bin_ids, meter_ids = bins.ids, meters.ids
        visits = [
            (bin_ids[b], s, not missed)
            for b, s, missed in zip(
                bins.visit_bin.tolist(),
                bins.visit_s.tolist(),
                bins.visit_missed.tolist(),
                strict=True,
            )
        ]
        emptyings = [(b, s) for b, s, collected in visits if collected]
        edges = calendar.start_s + 3600.0 * np.arange(calendar.hours + 1)
        fill = np.array([model.fill_at(b, edges) for b in range(len(bin_ids))], dtype=np.float32)
        return ServicesTruth(
            start_s=calendar.start_s,
            end_s=calendar.end_s,
            timezone=world.scenario.timezone,
            full_at=bins.full_at,
            bin_period_s=bins.period_s,
            meter_period_s=meters.period_s,
            bin_ids=bin_ids,
            meter_ids=meter_ids,
            emptyings=emptyings,
            emptied_from=[
                float(model.fill_at(bin_ids.index(b), np.array([s - 1e-3]))[0])
                for b, s in emptyings
            ],
            missed_pickups=[(b, s) for b, s, collected in visits if not collected],
            visits=visits,
            fill=fill.reshape(len(bin_ids), calendar.hours + 1),
            fulls=[(bin_ids[b], s) for b, s in model.crossings(bins.full_at)],
            overflows=[(bin_ids[b], s) for b, s in model.crossings(1.0)],
            fires=[(bin_ids[b], s, e) for b, s, e in bins.fires],
            tilts=[(bin_ids[b], s, e) for b, s, e in bins.tilts],
            leaks=[(meter_ids[m], s, e, r) for m, s, e, r in meters.leaks],
            bursts=[(meter_ids[m], s, e, r) for m, s, e, r in meters.bursts],
            backflows=[(meter_ids[m], s, e, v) for m, s, e, v in meters.backflows],
            stopped=[(meter_ids[m], s) for m, s in meters.stopped],
            continuous=[meter_ids[m] for m in np.flatnonzero(meters.continuous_m3h > 0)],
            q3_m3h=dict(zip(meter_ids, meters.q3_m3h.tolist(), strict=True)),
            meter_volume=hourly_volume(world, self.meters),
            meter_days=float(len(meter_ids) * world.scenario.days),
            model=model,
        )
