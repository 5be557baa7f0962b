"""A scenario file: the world to simulate (streets, walkers, devices, faults) for one night.

A scenario names a site file, or describes its streets by their real coordinates and lets the
simulator lay out the lamp segments. Rates of walkers come from 24 hourly values or from an
hourly counts CSV. Validated like the site and policy files: unknown keys are errors with the
line they are on (`controllers.settings.loader`).
"""

import datetime as dt
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from controllers.settings.loader import load_model
from controllers.settings.site import LightingClass, SiteInfo
from controllers.settings.types import (
    STRICT,
    Identifier,
    NonNegativeSeconds,
    PositiveSeconds,
    Ratio,
)

LatLon = tuple[float, float]
WireFormat = Literal["native", "senml", "chirpstack", "tts"]


class Night(BaseModel):
    """The night that starts on `date` (site's local date): sunset to next sunrise, framed."""

    model_config = STRICT
    date: dt.date
    margin_s: NonNegativeSeconds = 20 * 60


class Counts(BaseModel):
    """An hourly counts CSV, wide: `date`, `hour` (0..23 or `H:MM-H:MM`), one column per place.

    Some publishers run their day from 06:00 to 05:59 and file the small hours under the day
    before: `day_start_hour: 6` reads them back onto their calendar day.
    """

    model_config = STRICT
    file: str = Field(description="relative to the scenario file")
    locations: str | None = Field(
        default=None, description="CSV with Address, Latitude, Longitude (coordinates by name)"
    )
    day_start_hour: int = Field(default=0, ge=0, le=23)


class Street(BaseModel):
    """A street from `start` to `end` (lat, lon), cut into segments of about
    `segment_length_m`; walkers arrive at either end at its rate."""

    model_config = STRICT
    id: Identifier
    start: LatLon
    end: LatLon
    segment_length_m: float = Field(default=30, gt=0)
    lamps: int = Field(default=1, ge=1)
    rated_power_w: float = Field(default=40, gt=0)
    standby_power_w: float = Field(default=0.5, ge=0)
    lighting_class: LightingClass = "P4"
    lux_at_full_lx: float | None = Field(default=None, gt=0)
    rate_per_h: list[float] | None = Field(
        default=None, description="24 hourly arrivals (local hours); else from `locations`"
    )
    locations: list[str] = Field(
        default=[], description="count columns whose mean hourly count is the street's flow"
    )
    forward_share: Ratio = Field(default=0.5, description="share of walkers starting at `start`")

    @model_validator(mode="after")
    def _one_rate(self) -> Self:
        if self.rate_per_h is not None and len(self.rate_per_h) != 24:
            raise ValueError(f"rate_per_h needs 24 hourly values (got {len(self.rate_per_h)})")
        if self.rate_per_h is None and not self.locations:
            raise ValueError("give the street a rate_per_h (24 values) or count locations")
        return self


class Junction(BaseModel):
    """Two streets that cross (or meet) at `at`; walkers may turn from one to the other."""

    model_config = STRICT
    streets: tuple[Identifier, Identifier]
    at: LatLon


class Walking(BaseModel):
    """How walkers behave: speed, stops (per segment entered), turns (per junction passed)."""

    model_config = STRICT
    speed_mps: tuple[float, float] = (1.2, 1.6)
    stop_probability: Ratio = 0.0
    stop_s: tuple[NonNegativeSeconds, NonNegativeSeconds] = (10.0, 60.0)
    turn_probability: Ratio = 0.0
    rate_scale: float = Field(default=1.0, gt=0, description="multiplies every rate")


class Counter(BaseModel):
    """A pedestrian counter on one segment: where, how it speaks, how well it sees."""

    model_config = STRICT
    id: Identifier
    street: Identifier | None = None
    segment: Identifier | None = None
    at: LatLon | None = None
    location: str | None = Field(default=None, description="a place of the locations CSV")
    format: WireFormat = "native"
    report: Literal["event", "period"] = "event"
    period_s: PositiveSeconds = 60
    latency_s: tuple[NonNegativeSeconds, NonNegativeSeconds] = (0.5, 2.0)
    miss_rate: Ratio = 0.0
    false_per_h: float = Field(default=0.0, ge=0)
    knows_direction: bool = True
    heartbeat_s: PositiveSeconds = 600

    @model_validator(mode="after")
    def _placed(self) -> Self:
        if self.segment is None and self.street is None:
            raise ValueError("place the counter with segment:, or street: with at: or location:")
        if self.segment is None and self.at is None and self.location is None:
            raise ValueError("a counter on a street needs at: [lat, lon] or location:")
        return self


class Window(BaseModel):
    """`for_s` seconds starting `at_s` after the start of the run."""

    model_config = STRICT
    at_s: NonNegativeSeconds
    for_s: PositiveSeconds

    def covers(self, offset_s: float) -> bool:
        return self.at_s <= offset_s < self.at_s + self.for_s


class Dropout(Window):
    """Devices that say nothing during the window (all of them when `devices` is empty)."""

    devices: list[Identifier] = []


class Faults(BaseModel):
    """Each fault is off unless set. Shares are per message."""

    model_config = STRICT
    dropout: list[Dropout] = []
    duplicates: Ratio = 0.0
    reorder: Ratio = Field(default=0.0, description="share of messages held back")
    reorder_s: PositiveSeconds = Field(default=5.0, description="how long they are held")
    malformed: Ratio = 0.0
    clock_skew_s: float = Field(default=0.0, description="device clocks off by up to this")
    broker_outage: list[Window] = []
    storage_outage: list[Window] = []
    lamp_failures: list[Identifier] = Field(default=[], description="segments whose lamps die")
    stuck_drivers: list[Identifier] = Field(default=[], description="segments stuck at a level")
    lamp_failure_at_s: NonNegativeSeconds = 0.0


class Lamps(BaseModel):
    """The lamp drivers' own behaviour (DALI-like watchdog)."""

    model_config = STRICT
    watchdog_s: PositiveSeconds = 900
    fallback_level: Ratio = 1.0


class Scenario(BaseModel):
    """The whole scenario file."""

    model_config = STRICT
    name: Identifier
    description: str = ""
    night: Night
    site_file: str | None = Field(default=None, description="a site file, relative to this one")
    place: SiteInfo | None = None  # where the site is, as in a site file
    streets: list[Street] = []
    junctions: list[Junction] = []
    counts: Counts | None = None
    counters: list[Counter] = []
    walking: Walking = Walking()
    lamps: Lamps = Lamps()
    faults: Faults = Faults()
    tick_s: PositiveSeconds = 1.0
    bins: int = Field(default=0, ge=0, description="bins to place along the streets")
    water_meters: int = Field(default=0, ge=0, description="meters to place along the streets")

    @model_validator(mode="after")
    def _site_or_streets(self) -> Self:
        if (self.site_file is None) == (self.place is None or not self.streets):
            raise ValueError("give either site_file:, or place: with streets:")
        if any(s.locations for s in self.streets) and self.counts is None:
            raise ValueError("streets rated by count locations need counts: {file: ...}")
        return self


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; ConfigError names every problem and its line."""
    return load_model(Scenario, path.read_text(encoding="utf-8"), str(path))
