"""What the bin rules remember of every bin (BinState), and its packed layout.

A restart restores the bins from the rows of floats `pack` made (gateway/services/persist.py
stores them): the fields of `_FLOATS`, `_INTS` and `_BOOLS` in that order, then the seven
weekdays of each of `_WEEKS`. Stored rows depend on that order and on WIDTH. Re-exported by
bins.py, where callers import it from.
"""

from typing import ClassVar

import numpy as np

from controllers.services import bins_forecast
from controllers.services.bins_rules import BinRules
from controllers.services.changes import BoolArray, FloatArray, IntArray

_NAN = np.nan

_FLOATS = (
    "fill", "fill_ts_s", "last_ts_s", "last_temperature_c", "cycle_start_s", "cycle_peak",
    "cycle_low", "last_emptied_s", "sum_t", "sum_f", "sum_tt", "sum_tf", "full_since_s",
    "fire_since_s", "tilt_since_s", "late_since_s", "missed_since_s", "missed_day_s",
)  # fmt: skip
_INTS = ("cycle_n", "collections")
_BOOLS = ("armed", "full", "empty", "fire", "tilted", "late", "missed")
_WEEKS = ("weekday_gain", "weekday_hours")


class BinState:
    """Everything the rules remember of every bin; NaN: not seen yet.

    `fill` and `fill_ts_s` are the last valid reading, `last_ts_s` the last reading of any
    kind. The cycle (since the last emptying, or the first valid reading) keeps its low
    (frozen once `armed`), its peak since that low and the regression sums of its valid
    points (t in hours from `cycle_start_s`). `weekday_gain`/`weekday_hours` [n, 7] sum the
    rises of the fill and the hours they took, per local weekday. Each alert keeps its flag
    and its since time; `missed_day_s` is the end of the last collection day raised as missed.
    """

    WIDTH: ClassVar[int] = len(_FLOATS) + len(_INTS) + len(_BOOLS) + 7 * len(_WEEKS)

    def __init__(self, n: int) -> None:
        self.size = n
        self.width = self.WIDTH  # as WaterState's, whose width depends on the instance
        nan, zero, false = np.full(n, _NAN), np.zeros(n, dtype=np.int64), np.zeros(n, np.bool_)
        self.fill, self.fill_ts_s, self.last_ts_s = nan.copy(), nan.copy(), nan.copy()
        self.last_temperature_c = nan.copy()
        self.cycle_start_s, self.cycle_peak, self.cycle_low = nan.copy(), nan.copy(), nan.copy()
        self.last_emptied_s = nan.copy()
        self.sum_t, self.sum_f, self.sum_tt, self.sum_tf = (np.zeros(n) for _ in range(4))
        self.full_since_s, self.fire_since_s, self.tilt_since_s = (nan.copy() for _ in range(3))
        self.late_since_s, self.missed_since_s, self.missed_day_s = (nan.copy() for _ in range(3))
        self.cycle_n, self.collections = zero.copy(), zero.copy()
        self.armed, self.full, self.empty, self.fire = (false.copy() for _ in range(4))
        self.tilted, self.late, self.missed = false.copy(), false.copy(), false.copy()
        self.weekday_gain, self.weekday_hours = np.zeros((n, 7)), np.zeros((n, 7))

    def pack(self, indexes: IntArray) -> FloatArray:
        """Rows [len(indexes), WIDTH] of float64 holding everything a restart needs."""
        scalars = [getattr(self, name)[indexes].astype(np.float64) for name in _FLOATS]
        scalars += [getattr(self, name)[indexes].astype(np.float64) for name in _INTS + _BOOLS]
        weeks = [getattr(self, name)[indexes] for name in _WEEKS]
        return np.column_stack([*scalars, *weeks]).reshape(len(indexes), self.WIDTH)

    def unpack(self, indexes: IntArray, rows: FloatArray) -> None:
        """Restore the bins `indexes` from `pack`'s rows; a round trip is exact."""
        if rows.shape != (len(indexes), self.WIDTH):
            raise ValueError(f"rows must be [{len(indexes)}, {self.WIDTH}], not {rows.shape}")
        column = 0
        for name in _FLOATS + _INTS + _BOOLS:
            target = getattr(self, name)
            target[indexes] = rows[:, column].astype(target.dtype)
            column += 1
        for name in _WEEKS:
            getattr(self, name)[indexes] = rows[:, column : column + 7]
            column += 7

    def alert(self, kind: str) -> tuple[BoolArray, FloatArray]:
        """The flags and since times of alert `kind` (one of bins.CHANGE_KINDS)."""
        return {
            "bin_full": (self.full, self.full_since_s),
            "bin_fire": (self.fire, self.fire_since_s),
            "bin_tilt": (self.tilted, self.tilt_since_s),
            "collection_late": (self.late, self.late_since_s),
            "missed_pickup": (self.missed, self.missed_since_s),
        }[kind]

    def fill_rate_per_day(self, rules: BinRules) -> FloatArray:
        """Fill ratio per day over the current cycle (NaN: too few readings or too short)."""
        return bins_forecast.fill_rate_per_day(self, rules)

    def forecast_full_s(self, rules: BinRules, now_s: float, utc_offset_s: float) -> FloatArray:
        """When each bin reaches full_on, epoch s (NaN: no forecast); see bins_forecast."""
        return bins_forecast.forecast_full_s(self, rules, now_s, utc_offset_s)
