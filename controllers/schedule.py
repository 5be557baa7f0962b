"""The schedule in time: the astronomical clock, and a policy's schedule evaluated at an instant.

Sun times come from astral for the site's latitude and longitude, on the site's local date, so
DST changes are handled by the time zone. Where the sun does not set or rise that day (polar
summer or winter), the sun's elevation at local noon decides.

`Program` folds in the fixed-time steps and the calendar exceptions (precedence in
controllers.settings.schedule). Step times are wall-clock times at the site: on the night the
clocks go back, a time that happens twice counts the first time; on the night they go forward,
a time that does not exist happens an hour later, when the clock shows it.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from controllers.settings.schedule import Schedule
from controllers.units import OFF

_NOON = time(12)


class AstronomicalClock:
    """Sun times for one site; time is passed in as epoch seconds, nothing reads the clock."""

    def __init__(self, latitude: float, longitude: float, timezone: str) -> None:
        self._observer = Observer(latitude=latitude, longitude=longitude)
        self._zone = ZoneInfo(timezone)
        self._sun_times = lru_cache(maxsize=64)(self._compute_sun_times)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def local_date(self, now_s: float) -> date:
        return datetime.fromtimestamp(now_s, self._zone).date()

    def sun_times(self, day: date) -> tuple[float | None, float | None]:
        """(sunrise, sunset) of the local `day` as epoch seconds; None where it does not happen."""
        return self._sun_times(day)

    def is_lit(self, now_s: float, sunset_offset_s: float, sunrise_offset_s: float) -> bool:
        """True between sunset + sunset_offset_s and the next sunrise + sunrise_offset_s."""
        day = self.local_date(now_s)
        rise, set_ = self.sun_times(day)
        if rise is None or set_ is None:
            return self._dark_at_noon(day)
        return now_s < rise + sunrise_offset_s or now_s >= set_ + sunset_offset_s

    def _compute_sun_times(self, day: date) -> tuple[float | None, float | None]:
        try:
            rise = sunrise(self._observer, date=day, tzinfo=self._zone).timestamp()
        except ValueError:
            rise = None
        try:
            set_ = sunset(self._observer, date=day, tzinfo=self._zone).timestamp()
        except ValueError:
            set_ = None
        return rise, set_

    def _dark_at_noon(self, day: date) -> bool:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=self._zone)
        return float(elevation(self._observer, noon + timedelta(0))) < 0


@dataclass(frozen=True)
class ScheduleState:
    """What the schedule says at one instant: lit or not, the level spec, and why."""

    lit: bool
    level: float | str
    source: str


@dataclass(frozen=True)
class _Night:
    """One night of one schedule: steps as (instant, level, label), in time order."""

    schedule: Schedule
    steps: tuple[tuple[float, float | str, str], ...]
    label: str


class Program:
    """One policy schedule on one site's clock; `state(now_s)` is cheap to call every tick."""

    def __init__(self, clock: AstronomicalClock, schedule: Schedule) -> None:
        self._clock = clock
        self._schedule = schedule
        self._nights = lru_cache(maxsize=8)(self._compute_night)

    def state(self, now_s: float) -> ScheduleState:
        """Lit or not at `now_s`, with the level the schedule asks for (never `off` while lit)."""
        night = self._night_of(now_s)
        if night is None:
            return ScheduleState(False, 0.0, "day")
        plan = self._nights(night)
        level, source = plan.schedule.night_level, f"night_level{plan.label}"
        for at_s, step_level, step_label in plan.steps:
            if at_s > now_s:
                break
            level, source = step_level, f"{step_label}{plan.label}"
        if level == OFF:
            return ScheduleState(False, 0.0, source)
        return ScheduleState(True, level, source)

    def _night_of(self, now_s: float) -> date | None:
        """The night (by its evening's date) that `now_s` is lit in, or None by day."""
        clock = self._clock
        today = clock.local_date(now_s)
        rise, set_ = clock.sun_times(today)
        yesterday = today - timedelta(days=1)
        if rise is None or set_ is None:  # polar day or night: the sun at noon decides
            schedule = self._nights(yesterday).schedule
            dark = clock.is_lit(now_s, schedule.sunset_offset_s, schedule.sunrise_offset_s)
            if not dark:
                return None
            local = datetime.fromtimestamp(now_s, clock.zone)
            return today if local.time() >= _NOON else yesterday
        if now_s < rise + self._nights(yesterday).schedule.sunrise_offset_s:
            return yesterday
        if now_s >= set_ + self._nights(today).schedule.sunset_offset_s:
            return today
        return None

    def _compute_night(self, night: date) -> _Night:
        schedule = self._schedule.for_night(night)
        names = self._schedule.exception_names(night)
        label = f" ({', '.join(names)})" if names else ""
        steps = sorted(
            (
                (self._instant(night, step.at), step.level, f"step {step.at:%H:%M}")
                for step in schedule.steps
            ),
            key=lambda planned: planned[0],
        )
        return _Night(schedule, tuple(steps), label)

    def _instant(self, night: date, at: time) -> float:
        """Epoch seconds of wall-clock `at` during the night of `night`."""
        day = night if at >= _NOON else night + timedelta(days=1)
        # zoneinfo's fold=0: a repeated wall time is its first occurrence, and one that does
        # not exist is read with the offset before the change, which lands an hour later.
        return datetime.combine(day, at, self._clock.zone).timestamp()
