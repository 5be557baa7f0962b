"""The bin rules' inputs: the thresholds and collection days (BinRules) and a batch of
readings (BinBatch).

Settings and readings only, no rule: the gateway's registry builds both from the site's
policy and the decoded readings, and the rules (bins.py, bins_forecast.py) take them as
given. Re-exported by bins.py, where callers import them from.
"""

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from controllers.services.changes import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class BinRules:
    """Thresholds of every bin (arrays of length N, [N, 7] collection days, Monday first) and
    the site-wide constants of the rules (module docstring; units in the names)."""

    full_on: FloatArray
    full_off: FloatArray
    empty_on: FloatArray
    empty_off: FloatArray
    collection_days: BoolArray
    emptying_drop: float = 0.25
    emptying_rearm: float = 0.10
    min_cycle_readings: int = 4
    min_cycle_span_s: float = 6 * 3600
    max_forecast_s: float = 14 * 86400
    collection_late_s: float = 7 * 86400
    fire_temperature_c: float = 60.0
    fire_rise_c: float = 5.0
    profile_min_hours: float = 24.0

    def __post_init__(self) -> None:
        size = len(self.full_on)
        if self.collection_days.shape != (size, 7):
            raise ValueError(
                f"collection_days must be [{size}, 7], not {self.collection_days.shape}"
            )

    @staticmethod
    def uniform(n: int, **scalars: Any) -> "BinRules":
        """The default thresholds for `n` bins with no collection day (tests, the bench)."""
        rules = BinRules(
            full_on=np.full(n, 0.9),
            full_off=np.full(n, 0.8),
            empty_on=np.full(n, 0.1),
            empty_off=np.full(n, 0.2),
            collection_days=np.zeros((n, 7), dtype=np.bool_),
        )
        return replace(rules, **scalars)


@dataclass(frozen=True, eq=False)
class BinBatch:
    """Readings, one per element. `valid` False (out of range, lid open, sensor error) keeps
    the fill out of every fill rule; its temperature and tilt still count. NaN: not known;
    tilt 1 tilted, 0 upright, anything else not reported."""

    index: IntArray
    ts_s: FloatArray
    fill: FloatArray
    temperature_c: FloatArray
    tilt: npt.NDArray[np.int8]
    valid: BoolArray
