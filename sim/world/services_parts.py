"""The parts of a services district (`sim.world.services_district`): the run's calendar, and
the parameters of its bins and meters with the month's events, as arrays and tuples."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from sim.world.services import ServicesScenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Float32Array = npt.NDArray[np.float32]
Times = npt.ArrayLike  # epoch seconds: an array, a list or one number

WEEKDAY_FILL = np.array([1.0, 1.0, 1.0, 1.1, 1.3, 1.5, 1.2])  # Monday first: weekends fill faster
DAY_FILL, NIGHT_FILL = 1.5, 0.5  # 08:00-22:00 local, and the rest


@dataclass(frozen=True, eq=False)
class Calendar:
    """The run's hours: local hour, weekday and day number of each hour from `start_s`."""

    zone: ZoneInfo
    start_s: float
    end_s: float
    local_hour: IntArray
    weekday: IntArray
    day: IntArray
    six_am_s: FloatArray  # 06:00 local of each day, epoch seconds

    @property
    def hours(self) -> int:
        return len(self.local_hour)

    def hour_of(self, times_s: Times) -> IntArray:
        """Index of the hour each time falls in (clamped to the run)."""
        index = np.floor((np.asarray(times_s, dtype=np.float64) - self.start_s) / 3600.0).astype(
            np.int64
        )
        return np.clip(index, 0, self.hours - 1)


@dataclass(frozen=True, eq=False)
class BinWorld:
    """Per-bin parameters, and the month's visits (time-sorted) and incidents."""

    ids: tuple[str, ...]
    street: IntArray
    phase_s: FloatArray  # first report this long after the start
    period_s: float
    rate_per_h: FloatArray  # [bins, hours]: true fill gained per hour in each hour
    initial_fill: FloatArray
    collection_days: tuple[tuple[int, ...], ...]
    visit_bin: IntArray
    visit_s: FloatArray
    visit_missed: BoolArray
    visit_residual: FloatArray  # fill left by the truck
    fires: tuple[tuple[int, float, float], ...]  # (bin, first hot reading, last hot reading)
    tilts: tuple[tuple[int, float, float], ...]  # (bin, first tilted reading, last)
    empty_mm: float
    full_mm: float
    noise_mm: float
    full_at: float


@dataclass(frozen=True, eq=False)
class MeterWorld:
    """Per-meter parameters and the month's incidents (meter index first in each tuple)."""

    ids: tuple[str, ...]
    phase_s: FloatArray
    period_s: float
    business: BoolArray
    q3_m3h: FloatArray
    continuous_m3h: FloatArray  # 0 for most
    use_scale: FloatArray  # multiplies the day profile's uses per hour
    tap_m3h: FloatArray  # flow while a tap runs
    start_total_m3: FloatArray
    leaks: tuple[tuple[int, float, float | None, float], ...]  # start, end (None: on), m³/h
    bursts: tuple[tuple[int, float, float, float], ...]  # start, end, m³/h
    backflows: tuple[tuple[int, float, float, float], ...]  # start, end, m³ run back
    stopped: tuple[tuple[int, float], ...]  # stands still from


def make_calendar(scenario: ServicesScenario) -> Calendar:
    zone = ZoneInfo(scenario.timezone)
    first = dt.datetime.combine(scenario.start, dt.time(0), zone)
    last = dt.datetime.combine(scenario.start + dt.timedelta(days=scenario.days), dt.time(0), zone)
    start_s, end_s = first.timestamp(), last.timestamp()
    hours = round((end_s - start_s) / 3600.0)
    local = [dt.datetime.fromtimestamp(start_s + 3600.0 * h, zone) for h in range(hours)]
    six = [
        dt.datetime.combine(scenario.start + dt.timedelta(days=d), dt.time(6), zone).timestamp()
        for d in range(scenario.days)
    ]
    return Calendar(
        zone,
        start_s,
        end_s,
        np.array([t.hour for t in local], dtype=np.int64),
        np.array([t.weekday() for t in local], dtype=np.int64),
        np.array([(t.date() - scenario.start).days for t in local], dtype=np.int64),
        np.array(six),
    )
