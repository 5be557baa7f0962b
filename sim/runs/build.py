"""What a simulated district is made of, built from a scenario file or from a bare site file.

A scenario's streets are straight lines between real coordinates, cut into lamp segments;
counters, junctions and count locations are placed on them by projecting their coordinates.
The site file the gateway needs (segments, devices, sources) is derived from the same data,
so the gateway and the simulator agree on every id.
"""

import csv
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from controllers.settings.site import SiteConfig
from gateway.wire.topics import Topics
from sim.devices.counters import CounterSpec, site_counters
from sim.devices.encoders import network_id, source_for
from sim.world.junctions import Behaviour, JunctionPoint
from sim.world.rates import Rates, read_counts
from sim.world.scenario import Counter, Faults, Lamps, LatLon, Scenario, Street
from sim.world.walkers import DEFAULT_RATE_PER_H

_EARTH_M = 6_371_000.0


@dataclass(frozen=True, eq=False)
class World:
    """Everything the district is built from."""

    site: SiteConfig
    rates: Rates
    counters: tuple[CounterSpec, ...]
    behaviour: Behaviour = field(default_factory=Behaviour)
    junctions: tuple[JunctionPoint, ...] = ()
    forward_share: tuple[float, ...] | None = None
    lamps: Lamps = field(default_factory=Lamps)
    faults: Faults = field(default_factory=Faults)
    tick_s: float = 1.0
    name: str = ""
    notes: dict[str, str] = field(default_factory=dict)


def world_from_site(site: SiteConfig, rate_per_h: Sequence[float] = DEFAULT_RATE_PER_H) -> World:
    """A site file as it stands: the same profile on every street, perfect native counters."""
    streets = len({s.street for s in site.segments})
    rates = Rates.flat(ZoneInfo(site.site.timezone), streets, rate_per_h)
    return World(site, rates, tuple(site_counters(site)), tick_s=site.tick_s)


def world_from_scenario(scenario: Scenario, folder: Path, site: SiteConfig | None) -> World:
    """The scenario's world; `site` is its site file already loaded, when it names one."""
    walking = scenario.walking
    behaviour = Behaviour(
        walking.speed_mps, walking.stop_probability, walking.stop_s, walking.turn_probability
    )
    if site is not None:
        rates = [r * walking.rate_scale for r in DEFAULT_RATE_PER_H]
        world = world_from_site(site, rates)
        return World(
            site,
            world.rates,
            _site_counters(scenario, site, world.counters),
            behaviour,
            lamps=scenario.lamps,
            faults=scenario.faults,
            tick_s=scenario.tick_s,
            name=scenario.name,
        )
    return _from_streets(scenario, folder, behaviour)


def _site_counters(
    scenario: Scenario, site: SiteConfig, perfect: tuple[CounterSpec, ...]
) -> tuple[CounterSpec, ...]:
    """The site's counters, perfect and native unless the scenario describes them (by id)."""
    described = {c.id: c for c in scenario.counters}
    unknown = sorted(set(described) - {c.device_id for c in perfect})
    if unknown:
        raise ValueError(f"counters {unknown} are not pedestrian devices of the site file")
    out = []
    for index, spec in enumerate(perfect):
        counter = described.get(spec.device_id)
        if counter is None:
            out.append(spec)
            continue
        own = site.devices[spec.device_id].network_ids
        out.append(
            dataclasses.replace(
                _spec(counter, spec.segment, index),
                network_id=own[0] if own else network_id(counter.format, counter.id, index),
            )
        )
    return tuple(out)


def _from_streets(scenario: Scenario, folder: Path, behaviour: Behaviour) -> World:
    assert scenario.place is not None  # checked by the scenario model
    zone = ZoneInfo(scenario.place.timezone)
    origin = scenario.streets[0].start
    coordinates = _locations(scenario, folder)
    counters = [
        _counter(scenario, c, coordinates, origin, i) for i, c in enumerate(scenario.counters)
    ]
    site = _site(scenario, counters)
    rates = Rates(zone, len(scenario.streets))
    counts = None
    if scenario.counts is not None and any(s.locations for s in scenario.streets):
        counts = read_counts(folder / scenario.counts.file, zone, scenario.counts.day_start_hour)
    for index, street in enumerate(scenario.streets):
        if street.rate_per_h is not None:
            rates.set_profile(index, [r * scenario.walking.rate_scale for r in street.rate_per_h])
        elif counts is not None:
            flow = counts.flow(street.locations) * scenario.walking.rate_scale
            rates.set_series(index, counts.hour_s, flow)
    return World(
        site,
        rates,
        tuple(counters),
        behaviour,
        tuple(_junctions(scenario, origin)),
        tuple(s.forward_share for s in scenario.streets),
        scenario.lamps,
        scenario.faults,
        scenario.tick_s,
        scenario.name,
    )


def _xy_m(point: LatLon, origin: LatLon) -> tuple[float, float]:
    """Metres east and north of `origin` (equirectangular: exact enough across a city)."""
    lat0 = math.radians(origin[0])
    x = math.radians(point[1] - origin[1]) * math.cos(lat0) * _EARTH_M
    y = math.radians(point[0] - origin[0]) * _EARTH_M
    return x, y


def street_length_m(street: Street, origin: LatLon) -> float:
    ax, ay = _xy_m(street.start, origin)
    bx, by = _xy_m(street.end, origin)
    return math.hypot(bx - ax, by - ay)


def position_on(street: Street, point: LatLon, origin: LatLon) -> tuple[float, float]:
    """(metres along the street from `start`, metres off the street) of `point`."""
    ax, ay = _xy_m(street.start, origin)
    bx, by = _xy_m(street.end, origin)
    px, py = _xy_m(point, origin)
    length = math.hypot(bx - ax, by - ay)
    t = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / (length * length)
    t = min(max(t, 0.0), 1.0)
    off = math.hypot(ax + t * (bx - ax) - px, ay + t * (by - ay) - py)
    return t * length, off


def segment_count(street: Street, origin: LatLon) -> int:
    return max(1, round(street_length_m(street, origin) / street.segment_length_m))


def segment_id(street: Street, index: int) -> str:
    return f"{street.id}-{index + 1:02d}"


def _segment_at(street: Street, point: LatLon, origin: LatLon) -> str:
    along_m, _ = position_on(street, point, origin)
    count = segment_count(street, origin)
    index = min(int(along_m / (street_length_m(street, origin) / count)), count - 1)
    return segment_id(street, index)


def _locations(scenario: Scenario, folder: Path) -> dict[str, LatLon]:
    """Place name → (lat, lon) from the counts' locations file, if any."""
    if scenario.counts is None or scenario.counts.locations is None:
        return {}
    with (folder / scenario.counts.locations).open(newline="", encoding="utf-8") as handle:
        return {
            row["Address"]: (float(row["Latitude"]), float(row["Longitude"]))
            for row in csv.DictReader(handle)
        }


def _counter(
    scenario: Scenario, counter: Counter, places: dict[str, LatLon], origin: LatLon, index: int
) -> CounterSpec:
    segment = counter.segment
    if segment is None:
        street = next((s for s in scenario.streets if s.id == counter.street), None)
        if street is None:
            raise ValueError(f"counter {counter.id}: unknown street {counter.street!r}")
        point = counter.at
        if point is None:
            if counter.location not in places:
                raise ValueError(f"counter {counter.id}: no location {counter.location!r}")
            point = places[str(counter.location)]
        segment = _segment_at(street, point, origin)
    return _spec(counter, segment, index)


def _spec(counter: Counter, segment: str, index: int) -> CounterSpec:
    return CounterSpec(
        device_id=counter.id,
        segment=segment,
        network_id=network_id(counter.format, counter.id, index),
        format=counter.format,
        report=counter.report,
        period_s=counter.period_s,
        latency_s=counter.latency_s,
        miss_rate=counter.miss_rate,
        false_per_h=counter.false_per_h,
        knows_direction=counter.knows_direction,
        heartbeat_s=counter.heartbeat_s,
    )


def _site(scenario: Scenario, counters: list[CounterSpec]) -> SiteConfig:
    """The site file the gateway runs with, derived from the scenario."""
    assert scenario.place is not None
    origin = scenario.streets[0].start
    segments = []
    for street in scenario.streets:
        count = segment_count(street, origin)
        length_m = street_length_m(street, origin) / count
        for index in range(count):
            segments.append(
                {
                    "id": segment_id(street, index),
                    "street": street.id,
                    "order": index + 1,
                    "length_m": round(length_m, 2),
                    "lamps": street.lamps,
                    "rated_power_w": street.rated_power_w,
                    "standby_power_w": street.standby_power_w,
                    "lighting_class": street.lighting_class,
                    "lux_at_full_lx": street.lux_at_full_lx,
                }
            )
    devices: dict[str, dict[str, object]] = {}
    for counter in counters:
        ids = [counter.network_id] if counter.network_id else []
        devices[counter.device_id] = {
            "kind": "pedestrian",
            "segment": counter.segment,
            "network_ids": ids,
        }
    devices |= _spread(segments, "bin", scenario.bins)
    devices |= _spread(segments, "water", scenario.water_meters)
    topics = Topics("luciole", scenario.place.id)
    sources = {s for c in counters if (s := source_for(c.format, topics)) is not None}
    return SiteConfig.model_validate(
        {
            "site": scenario.place.model_dump(),
            "tick_s": scenario.tick_s,
            "segments": segments,
            "junctions": _site_junctions(scenario, origin),
            "devices": devices,
            "sources": [
                {"topic": s.topic, "format": s.format, "codec": s.codec}
                for s in sorted(sources, key=lambda s: s.topic)
            ],
        }
    )


def _site_junctions(scenario: Scenario, origin: LatLon) -> dict[str, list[str]]:
    """The scenario's junctions as the site file lists them (the segment of each street at
    the crossing), so that look-ahead and zones follow the walkers who turn there."""
    streets = {s.id: s for s in scenario.streets}
    out = {}
    for junction in scenario.junctions:
        if not all(name in streets for name in junction.streets):
            continue  # reported by _junctions, which the world builds from the same list
        members = [_segment_at(streets[name], junction.at, origin) for name in junction.streets]
        out["-x-".join(junction.streets)] = members
    return out


def _spread(
    segments: list[dict[str, object]], kind: str, count: int
) -> dict[str, dict[str, object]]:
    """`count` devices of `kind` spread evenly over the segments."""
    if count == 0:
        return {}
    picks = np.linspace(0, len(segments) - 1, count).round().astype(int).tolist()
    geometry = {"empty_distance_mm": 1200, "full_distance_mm": 150} if kind == "bin" else {}
    return {
        f"{kind}-{n + 1:02d}": {"kind": kind, "segment": segments[i]["id"], **geometry}
        for n, i in enumerate(picks)
    }


def _junctions(scenario: Scenario, origin: LatLon) -> list[JunctionPoint]:
    """Both ways of every junction, as positions along each street."""
    index = {s.id: i for i, s in enumerate(scenario.streets)}
    points = []
    for junction in scenario.junctions:
        a, b = junction.streets
        if a not in index or b not in index:
            raise ValueError(f"junction {a} × {b}: unknown street")
        pa, _ = position_on(scenario.streets[index[a]], junction.at, origin)
        pb, _ = position_on(scenario.streets[index[b]], junction.at, origin)
        points += [
            JunctionPoint(index[a], pa, index[b], pb),
            JunctionPoint(index[b], pb, index[a], pa),
        ]
    return points
