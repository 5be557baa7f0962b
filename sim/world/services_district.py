"""The district of a services scenario: its site file, its bins and meters, the month's events.

Everything random comes from the scenario's seed, one stream per part: bins and meters (drawn
by `sim.world.services_draws`), and the readings' noise (drawn by `sim.devices.services` from
`readings_seed`):
- bins stand evenly along the streets; a bin fills at a daily rate of its own (the street's
  `busy` factor times a lognormal spread), faster on weekends and by day, with a day-to-day
  spread; its collection days (1 to 3 a week, Monday to Saturday) are what the city planned
  for that rate, so some bins are collected half empty and some overflow; the truck passes
  between 06:00 and 09:00 local, a street's bins one after the other; a few scheduled visits
  are missed; a fire and a few tilts;
- meters are households or businesses, a few with legitimate continuous flow; a share leak,
  from a random moment (by day as well as by night) until repaired, some within the month;
  a burst, a backflow, a meter that stops counting in the first day (the stopped rule waits
  four weeks, so a later stop could not be seen within a month).
"""

import math
from dataclasses import dataclass

import numpy as np

from controllers.settings.schedule import WEEKDAYS
from controllers.settings.site import SiteConfig
from sim.world.services import LatLon, ServicesScenario, ServiceStreet
from sim.world.services_draws import draw_bins, draw_meters
from sim.world.services_parts import BinWorld, Calendar, MeterWorld, make_calendar

_EARTH_M = 6_371_000.0


@dataclass(frozen=True, eq=False)
class ServicesWorld:
    """The district: its site file for the daemon, what its devices are, the month's events,
    and the seed of the readings' noise."""

    scenario: ServicesScenario
    site: SiteConfig
    calendar: Calendar
    bins: BinWorld
    meters: MeterWorld
    readings_seed: np.random.SeedSequence


def build_services_world(scenario: ServicesScenario, seed: int | None = None) -> ServicesWorld:
    """The scenario's district; `seed` overrides the scenario's."""
    streams = np.random.SeedSequence(scenario.seed if seed is None else seed).spawn(3)
    bin_rng, meter_rng = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    calendar = make_calendar(scenario)
    streets = scenario.bins.streets
    bin_places = _places(streets, scenario.bins.count, 0.5)
    meter_places = _places(streets, scenario.meters.count, 0.0)
    bins = draw_bins(scenario, calendar, [p[0] for p in bin_places], bin_rng)
    meters = draw_meters(scenario, calendar, meter_rng)
    site = _site(scenario, bins, meters, bin_places, meter_places)
    return ServicesWorld(scenario, site, calendar, bins, meters, streams[2])


def _xy_m(point: LatLon, origin: LatLon) -> tuple[float, float]:
    lat0 = math.radians(origin[0])
    x = math.radians(point[1] - origin[1]) * math.cos(lat0) * _EARTH_M
    return x, math.radians(point[0] - origin[0]) * _EARTH_M


def _length_m(street: ServiceStreet) -> float:
    x, y = _xy_m(street.end, street.start)
    return max(math.hypot(x, y), 1.0)


def _segments(street: ServiceStreet) -> int:
    return max(1, round(_length_m(street) / street.segment_length_m))


def _places(
    streets: list[ServiceStreet], count: int, offset: float
) -> list[tuple[int, str, LatLon]]:
    """(street index, segment id, lat/lon) of `count` devices spread evenly along the streets."""
    lengths = np.array([_length_m(s) for s in streets])
    edges = np.concatenate(([0.0], np.cumsum(lengths)))
    found = []
    for i in range(count):
        along = (i + offset) / count * edges[-1]
        s = min(int(np.searchsorted(edges, along, side="right")) - 1, len(streets) - 1)
        street, share = streets[s], min((along - edges[s]) / lengths[s], 1.0)
        segment = min(int(share * _segments(street)), _segments(street) - 1)
        lat = street.start[0] + share * (street.end[0] - street.start[0])
        lon = street.start[1] + share * (street.end[1] - street.start[1])
        found.append((s, f"{street.id}-{segment + 1:02d}", (round(lat, 6), round(lon, 6))))
    return found


def _site(
    scenario: ServicesScenario,
    bins: BinWorld,
    meters: MeterWorld,
    bin_places: list[tuple[int, str, LatLon]],
    meter_places: list[tuple[int, str, LatLon]],
) -> SiteConfig:
    """The site file the daemon runs with: one segment per stretch of street, the registry."""
    segments = [
        {
            "id": f"{street.id}-{i + 1:02d}",
            "street": street.id,
            "order": i + 1,
            "length_m": round(_length_m(street) / _segments(street), 2),
            "rated_power_w": 40,
        }
        for street in scenario.bins.streets
        for i in range(_segments(street))
    ]
    spec = scenario.bins
    devices: dict[str, dict[str, object]] = {}
    for b, (_, segment, (lat, lon)) in enumerate(bin_places):
        devices[bins.ids[b]] = {
            "kind": "bin",
            "segment": segment,
            "latitude": lat,
            "longitude": lon,
            "empty_distance_mm": spec.empty_distance_mm,
            "full_distance_mm": spec.full_distance_mm,
            "full_at": spec.full_at,
            "empty_at": spec.empty_at,
            "collection_days": [WEEKDAYS[d] for d in bins.collection_days[b]],
        }
    for m, (_, segment, (lat, lon)) in enumerate(meter_places):
        devices[meters.ids[m]] = {
            "kind": "water",
            "segment": segment,
            "latitude": lat,
            "longitude": lon,
            "q3_m3h": float(meters.q3_m3h[m]),
            "resolution_m3": 0.001,
            "continuous_flow_expected": bool(meters.continuous_m3h[m] > 0),
        }
    site = scenario.site
    return SiteConfig.model_validate(
        {
            "site": {**site.model_dump(), "timezone": scenario.timezone},
            "segments": segments,
            "devices": devices,
            "water": {"price_per_m3": scenario.price_per_m3, "currency": "EUR"},
        }
    )
