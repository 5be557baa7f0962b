"""The water rules' inputs: the meters' alarm flags (FLAGS), the thresholds (WaterRules) and a
batch of readings (WaterBatch).

Settings and readings only, no rule: the gateway's registry builds both from the site's
policy and the decoded readings, and the rules (water.py, water_hourly.py) take them as
given. Re-exported by water.py, where callers import them from.
"""

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from controllers.services.changes import BoolArray, FloatArray, IntArray
from controllers.services.water_hours import HOUR_S

FLAGS: tuple[str, ...] = (
    "leak",
    "burst",
    "backflow",
    "tamper",
    "dry",
    "low_battery",
    "meter_error",
    "frost",
    "overflow",
)  # bit i of WaterBatch.flags is FLAGS[i]; higher bits are not ours and are dropped


@dataclass(frozen=True, eq=False)
class WaterRules:
    """The thresholds: Q3, the index's resolution and the leak exemption per meter, the rest
    for all meters. Volumes in m³, flows in m³/h, times in seconds, local hours 0-23."""

    q3_m3h: FloatArray
    resolution_m3: FloatArray
    continuous_flow_expected: BoolArray
    # An hour with less than this share of Q3 over the hour has no flow (Kamstrup: 0.5 % of
    # a DN15's 2.5 m³/h, 12.5 L/h).
    leak_sensitivity: float = 0.005
    leak_window_h: int = 24  # a leak: no hour without flow in the last day ...
    leak_min_known_h: int = 20  # ... of which this many hours are known
    burst_share: float = 0.20  # a burst: a flow above this share of Q3 ...
    burst_duration_s: float = 1800  # ... for this long
    stopped_after_s: float = 28 * 86400  # no progress for four weeks while still reporting
    max_gap_s: float = 7200  # longer silences: the hours inside are unknown
    night_start_h: int = 2  # the night flow: the driest hour in [start, end) local
    night_end_h: int = 5
    consumption_factor: float = 2.0  # high consumption: a period above this × the usual
    consumption_period_s: float = 7 * 86400
    history_periods: int = 156  # the usual: the mean of up to this many past periods

    def __post_init__(self) -> None:
        if not 1 <= self.leak_min_known_h <= self.leak_window_h:
            raise ValueError("leak_min_known_h must be in 1..leak_window_h")
        if not (np.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
            raise ValueError("max_gap_s must be finite and non-negative")
        if not self.consumption_period_s >= HOUR_S:
            raise ValueError("consumption_period_s must be at least an hour")
        if self.history_periods < 1:
            raise ValueError("history_periods must be at least 1")
        if not (0 <= self.night_start_h < 24 and 0 <= self.night_end_h < 24):
            raise ValueError("night hours must be in 0..23")

    @property
    def night_hours(self) -> int:
        """How many hours the night spans (start == end: a whole day)."""
        return (self.night_end_h - self.night_start_h) % 24 or 24

    @property
    def boundary_cap(self) -> int:
        """The hour boundaries one reading's move walks one by one; any further ones are
        skipped. A move crossing more is longer than max_gap_s, so its hours are unknown,
        and a night ending that far into it has no known hour: only the period open when
        the silence began still has to be closed, once."""
        return max(int(self.max_gap_s // HOUR_S) + 1, self.night_hours)

    @staticmethod
    def uniform(n: int, **scalars: float) -> "WaterRules":
        """The same rules for `n` meters; a per-meter field given here is broadcast."""
        per_meter = {"q3_m3h": 2.5, "resolution_m3": 0.001, "continuous_flow_expected": False}
        known = {field.name: field for field in fields(WaterRules)}
        kwargs: dict[str, Any] = {}
        for name, value in {**per_meter, **scalars}.items():
            if name not in known:
                raise TypeError(f"WaterRules has no field {name!r}")
            if name in per_meter:
                dtype = np.bool_ if name == "continuous_flow_expected" else np.float64
                kwargs[name] = np.full(n, value, dtype=dtype)
            elif known[name].type in (int, "int"):
                kwargs[name] = int(value)
            else:
                kwargs[name] = float(value)
        return WaterRules(**kwargs)


@dataclass(frozen=True, eq=False)
class WaterBatch:
    """Readings, one per element. `volume_m3`: signed volume since the meter's previous
    reading (negative: water ran back; NaN: unknown, a new baseline: the meter's first
    reading, a replaced meter). `flow_m3h`: reported instantaneous flow, NaN when the meter
    gives none (the volume over the interval stands in). `flags`: bitmask of FLAGS."""

    index: IntArray
    ts_s: FloatArray
    volume_m3: FloatArray
    flow_m3h: FloatArray
    flags: npt.NDArray[np.int64]
