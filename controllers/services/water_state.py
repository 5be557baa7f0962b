"""What the water rules remember of every meter (WaterState), and its packed layout.

A restart restores the meters from the rows of floats `pack` made (gateway/services/persist.py
stores them): the fields in `_COLUMNS` order, then the ring's start index and newest hour,
then its hours. Stored rows depend on that order and on WIDTH. Re-exported by water.py, where
callers import it from.
"""

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from controllers.services.changes import BoolArray, FloatArray, IntArray
from controllers.services.water_hours import HOUR_S, HourRing

# Everything per meter a restart needs, in pack order (the ring's arrays follow).
_COLUMNS = (
    "index_m3",  # net index: the sum of the known volumes
    "last_ts_s",
    "last_flags",
    "leak_active",
    "leak_since_s",
    "leak_rate_m3h",
    "burst_active",
    "burst_since_s",  # first reading of the current run above the burst flow
    "backflow_active",
    "backflow_since_s",
    "backflow_m3",  # run back during the current backflow
    "stopped_active",
    "stopped_since_s",
    "last_progress_s",
    "progress_index_m3",  # the index at last_progress_s
    "night_m3h",
    "period",  # number of the open period (NaN: none yet)
    "period_m3",
    "period_known_h",
    "past_m3",  # the past periods' (decayed) sum ...
    "past_count",  # ... and count
    "high_active",
    "high_since_s",
)


class WaterState:
    """What the rules remember of every meter, packable into rows of floats for a restart."""

    WIDTH: ClassVar[int] = len(_COLUMNS) + 2 + 48  # for hours=48; an instance: self.width

    def __init__(self, n: int, hours: int = 48) -> None:
        self.size = n
        self.ring = HourRing(n, hours)
        self.width = len(_COLUMNS) + 2 + hours
        nan = np.full(n, np.nan)
        self.index_m3: FloatArray = np.zeros(n)
        self.last_ts_s: FloatArray = nan.copy()
        self.last_flags: IntArray = np.zeros(n, dtype=np.int64)
        self.leak_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.leak_since_s, self.leak_rate_m3h = nan.copy(), nan.copy()
        self.burst_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.burst_since_s = nan.copy()
        self.backflow_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.backflow_since_s, self.backflow_m3 = nan.copy(), np.zeros(n)
        self.stopped_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.stopped_since_s, self.last_progress_s = nan.copy(), nan.copy()
        self.progress_index_m3 = np.zeros(n)
        self.night_m3h, self.period = nan.copy(), nan.copy()
        self.period_m3, self.period_known_h = np.zeros(n), np.zeros(n)
        self.past_m3, self.past_count = np.zeros(n), np.zeros(n)
        self.high_active: BoolArray = np.zeros(n, dtype=np.bool_)
        self.high_since_s = nan.copy()

    @property
    def hours(self) -> int:
        """How many complete hours the ring keeps."""
        return self.ring.hours

    def _columns(self) -> list[npt.NDArray[Any]]:
        columns = [np.asarray(getattr(self, name)) for name in _COLUMNS]
        return [*columns, self.ring.start_m3, self.ring.newest_hour]

    def pack(self, indexes: IntArray) -> FloatArray:
        """[len(indexes), width]: every field of these meters, then their ring (slot order)."""
        columns = [column[indexes].astype(np.float64) for column in self._columns()]
        rows: FloatArray = np.column_stack([*columns, self.ring.volume_m3[indexes]])
        return rows.reshape(len(indexes), self.width)

    def unpack(self, indexes: IntArray, rows: FloatArray) -> None:
        """Restore these meters from `pack`'s rows (exactly: flags and hour numbers are
        integers well inside a float's 53 bits)."""
        if rows.shape != (len(indexes), self.width):
            raise ValueError(f"rows of shape {rows.shape}, expected ({len(indexes)}, {self.width})")
        for i, column in enumerate(self._columns()):
            column[indexes] = rows[:, i]
        self.ring.volume_m3[indexes] = rows[:, len(_COLUMNS) + 2 :]

    def hourly_m3(self, hours: int) -> FloatArray:
        """[N, hours]: each meter's last `hours` complete hours, oldest first, ending at its
        own newest complete hour (NaN: unknown, or before its first reading)."""
        if not 1 <= hours <= self.hours:
            raise ValueError(f"the ring keeps 1..{self.hours} hours, not {hours}")
        out = np.full((self.size, hours), np.nan)
        seen = np.flatnonzero(np.isfinite(self.ring.newest_hour))
        out[seen] = self.ring.last(seen, hours)
        return out

    def night_flow_m3h(self) -> FloatArray:
        """Per meter: the driest hour of its last complete night, m³/h (NaN: none known)."""
        return self.night_m3h.copy()

    def leak_volume_m3(self, now_s: float) -> FloatArray:
        """The estimated volume lost to each active leak by `now_s` (0 elsewhere): its rate
        over the hours since it began."""
        hours = np.maximum(now_s - self.leak_since_s, 0.0) / HOUR_S
        lost: FloatArray = np.where(self.leak_active, self.leak_rate_m3h * hours, 0.0)
        return lost
