"""A services scenario: a month of a district's waste bins and water meters.

Where a night scenario (`sim.world.scenario`) frames one night of walkers and lamps, this one
frames `days` days of bins filling and being emptied, and of meters counting, leaking now and
then. It is told apart by its top-level `kind: services` (a night scenario has no `kind`):
`scenario_kind` reads that key and nothing else, so a command can pick the loader.

The district itself (its site file, each device's parameters and the month's events, all drawn
from the seed) is built by `sim.world.services_district.build_services_world`.
"""

import datetime as dt
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from controllers.settings.loader import load_model, parse_yaml
from controllers.settings.types import STRICT, Identifier, PositiveSeconds, Ratio

LatLon = tuple[float, float]
ScenarioKind = Literal["night", "services"]


class ServicesSite(BaseModel):
    """Identity and place of the simulated site (the time zone is the scenario's)."""

    model_config = STRICT
    id: Identifier
    name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class ServiceStreet(BaseModel):
    """A street from `start` to `end` (lat, lon), cut into lamp segments of about
    `segment_length_m`; its bins fill `busy` times as fast as on an average street."""

    model_config = STRICT
    id: Identifier
    start: LatLon
    end: LatLon
    busy: float = Field(default=1.0, gt=0, description="multiplies its bins' fill rates")
    segment_length_m: float = Field(default=50.0, gt=0)


class BinsSection(BaseModel):
    """The district's bins, spread evenly along `streets` (the meters stand on them too)."""

    model_config = STRICT
    count: int = Field(default=300, ge=0)
    report_period_s: PositiveSeconds = 3600
    streets: list[ServiceStreet] = Field(min_length=1)
    empty_distance_mm: float = Field(default=1200.0, gt=0)
    full_distance_mm: float = Field(default=150.0, ge=0)
    full_at: Ratio = Field(default=0.9, description="full from this fill (truth and registry)")
    empty_at: Ratio = Field(default=0.1, description="empty up to this fill (registry)")
    fill_per_day: float = Field(
        default=0.12, gt=0, le=1, description="median share of the depth filled per day"
    )
    noise_mm: float = Field(default=8.0, ge=0, description="ultrasonic noise, one sigma")
    missed_pickup_share: Ratio = Field(default=0.03, description="of the scheduled visits")
    fires: int = Field(default=1, ge=0)
    tilts: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        if self.full_distance_mm >= self.empty_distance_mm:
            raise ValueError("full_distance_mm must be smaller than empty_distance_mm")
        if self.empty_at >= self.full_at:
            raise ValueError("empty_at must be below full_at")
        return self


class MetersSection(BaseModel):
    """The district's water meters: households, businesses, a few with legitimate
    continuous flow, and the month's incidents."""

    model_config = STRICT
    count: int = Field(default=300, ge=0)
    report_period_s: PositiveSeconds = 900
    household_q3_m3h: float = Field(default=2.5, gt=0, description="DN15 household meter")
    business_q3_m3h: float = Field(default=4.0, gt=0, description="DN20 business meter")
    business_share: Ratio = 0.3
    continuous_share: Ratio = Field(default=0.03, description="fountains, cooling processes")
    leak_share: Ratio = Field(default=0.08, description="of the meters, leaking at some point")
    leak_rate_l_h: tuple[float, float] = Field(default=(15.0, 300.0), description="log-uniform")
    leak_repaired_share: Ratio = Field(default=0.4, description="of leaks, repaired in a few days")
    bursts: int = Field(default=1, ge=0)
    backflows: int = Field(default=1, ge=0)
    stopped: int = Field(default=1, ge=0)

    @field_validator("leak_rate_l_h")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError("leak_rate_l_h is [low, high] with 0 < low <= high")
        return value


class ServicesScenario(BaseModel):
    """The whole services scenario file."""

    model_config = STRICT
    kind: Literal["services"]
    name: Identifier
    description: str = ""
    start: dt.date = Field(description="first local day of the run")
    days: int = Field(default=30, ge=1, le=366)
    timezone: str = "Europe/Paris"
    seed: int = Field(default=0, ge=0)
    site: ServicesSite
    bins: BinsSection
    meters: MetersSection = MetersSection()
    price_per_m3: float = Field(default=4.3, ge=0, description="water, EUR per m³")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value


def load_services_scenario(path: Path) -> ServicesScenario:
    """Read and validate a services scenario; ConfigError names every problem and its line."""
    return load_model(ServicesScenario, path.read_text(encoding="utf-8"), str(path))


def scenario_kind(path: Path) -> ScenarioKind:
    """`services` for a file whose top level says `kind: services`, else `night`."""
    data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    return "services" if isinstance(data, dict) and data.get("kind") == "services" else "night"
