"""The policy's `bins:` and `water:` sections: how the city services' rules are tuned.

Per-device values (a bin's thresholds and collection days, a meter's Q3) live in the site's
registry (`controllers.settings.site.Device`) and default to what is set here. Field
descriptions are the policy reference in README.md, like the lighting's.
"""

from typing import Self

from pydantic import BaseModel, Field, model_validator

from controllers.settings.types import STRICT, PositiveSeconds, Ratio

__all__ = ["Bins", "Water"]


class Bins(BaseModel):
    """Waste bins (TALQ waste profile, LwM2M 3435, FIWARE WasteContainer)."""

    model_config = STRICT
    full_at: Ratio = Field(default=0.9, description="a bin this full is full (`bin_full` alert)")
    full_clear: Ratio = Field(
        default=0.8, description="a full bin stops being full below this (hysteresis)"
    )
    empty_at: Ratio = Field(default=0.1, description="a bin at or below this fill is empty")
    empty_clear: Ratio = Field(default=0.2, description="an empty bin stops being empty above this")
    emptying_drop: Ratio = Field(
        default=0.25,
        description="a fall of the fill this large from the cycle's peak is an emptying "
        "(well beyond the ultrasonic noise, about 1 % of the depth)",
    )
    emptying_rearm: Ratio = Field(
        default=0.1,
        description="after an emptying, the fill must rise this much before another counts",
    )
    min_cycle_readings: int = Field(
        default=4, ge=2, description="fewer readings in the fill cycle: no rate, no forecast"
    )
    min_cycle_span_s: PositiveSeconds = Field(
        default=6 * 3600, description="nor when they span less than this"
    )
    max_forecast_s: PositiveSeconds = Field(
        default=14 * 86400, description="a forecast further away than this is not given"
    )
    collection_late_s: PositiveSeconds = Field(
        default=7 * 86400,
        description="days since the last emptying after which collection is late (TALQ "
        "collectionLateThreshold)",
    )
    fire_temperature_c: float = Field(
        default=60.0, gt=0, le=200, description="a bin this hot is on fire (`bin_fire`)"
    )
    fire_rise_c: float = Field(
        default=5.0, gt=0, description="so is a rise of more than this between two readings"
    )
    due_within_s: PositiveSeconds = Field(
        default=86400,
        description="the collection list's horizon: urgent when full or forecast full within "
        "it, on the way within twice it",
    )

    round_margin: Ratio = Field(
        default=0.2,
        description="a bin with collection days is urgent when forecast full before its next "
        "round after today, the time to it lengthened by this share: the forecast follows "
        "the fill's weekly pace, and by day a bin fills faster than on average",
    )

    @model_validator(mode="after")
    def _hysteresis_bands(self) -> Self:
        if self.full_clear >= self.full_at:
            raise ValueError("full_clear must be below full_at (that is the hysteresis)")
        if self.empty_clear <= self.empty_at:
            raise ValueError("empty_clear must be above empty_at (that is the hysteresis)")
        if self.empty_clear >= self.full_clear:
            raise ValueError("the empty band must sit below the full band")
        return self


class Water(BaseModel):
    """Water meters (the meters' own alarm rules; Kamstrup's leak and burst)."""

    model_config = STRICT
    q3_m3h: float = Field(
        default=2.5,
        gt=0,
        description="a meter's nominal flow Q3 when its registry entry has none (2.5 m³/h: a "
        "DN15 household meter)",
    )
    resolution_m3: float = Field(
        default=0.001, gt=0, description="the index's resolution when the registry has none"
    )
    leak_sensitivity: Ratio = Field(
        default=0.005,
        description="share of Q3 below which an hour counts as without flow; a leak is no "
        "hour without flow in leak_window_h (0.5 % of 2.5 m³/h = 12.5 L/h)",
    )
    leak_window_h: int = Field(default=24, ge=2, le=47, description="hours of the leak rule")
    leak_min_known_h: int = Field(
        default=20,
        ge=1,
        description="of which this many must be known: missing hours neither raise nor clear",
    )
    burst_share: Ratio = Field(default=0.2, description="a burst is a flow above this share of Q3")
    burst_duration_s: PositiveSeconds = Field(default=1800, description="...for this long")
    stopped_after_s: PositiveSeconds = Field(
        default=28 * 86400, description="a reporting meter whose index stands still this long"
    )
    max_gap_s: PositiveSeconds = Field(
        default=7200,
        description="hours inside a longer silence are unknown; shorter gaps are interpolated",
    )
    night_start_h: int = Field(default=2, ge=0, le=23, description="the night flow window, local")
    night_end_h: int = Field(default=5, ge=1, le=24, description="...and its end")
    consumption_factor: float = Field(
        default=2.0,
        gt=1,
        description="a period above this many times the usual consumption raises "
        "`high_consumption` (French law: the water service warns at twice the average)",
    )
    consumption_period_s: PositiveSeconds = Field(
        default=7 * 86400, description="the period compared, from local midnight"
    )
    history_periods: int = Field(
        default=156, ge=1, description="the usual consumption averages up to this many periods"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.leak_min_known_h > self.leak_window_h:
            raise ValueError("leak_min_known_h cannot exceed leak_window_h")
        if self.night_end_h <= self.night_start_h:
            raise ValueError("night_end_h must come after night_start_h")
        return self

    def leak_threshold_m3h(self, q3_m3h: float) -> float:
        """The flow below which an hour is without flow, for a meter of `q3_m3h`."""
        return self.leak_sensitivity * q3_m3h
