"""The schedule section: the astronomical window, fixed-time steps and calendar exceptions.

A night belongs to the date of its evening: the night of Friday 21 June runs from the sunset
of the 21st to the sunrise of the 22nd, and its 01:00 step happens on the 22nd. Precedence,
from strongest: an exception listing the night's date, then one whose date range holds it,
then one naming its weekday, then the base schedule; among exceptions of the same kind the one
later in the file wins. An exception replaces only the keys it sets.
"""

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from controllers.settings.types import STRICT, ScheduleLevel, Seconds, TimeOfDay

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OFFSET_BOUND_S = 7200


class TimeStep(BaseModel):
    """From `at` (wall-clock time at the site) until the next step or sunrise, `level`."""

    model_config = STRICT
    at: TimeOfDay = Field(description="wall-clock time, such as 01:00 (quote it in YAML)")
    level: ScheduleLevel = Field(description="a level, a class, rated, or off (switched off)")


def _one_step_per_time(steps: list[TimeStep] | None) -> list[TimeStep] | None:
    times = [step.at for step in steps or []]
    repeated = sorted({t for t in times if times.count(t) > 1})
    if repeated:
        raise ValueError(f"two steps at {repeated[0]:%H:%M}; keep one")
    return steps


class CalendarException(BaseModel):
    """Nights that differ: by date (a festival), by date range (the holidays), by weekday."""

    model_config = STRICT
    name: str = Field(min_length=1, description="shown in logs and in check-config messages")
    dates: list[date] = Field(default=[], description="single nights, by their evening's date")
    start: date | None = Field(default=None, description="first night of a date range")
    end: date | None = Field(default=None, description="last night of a date range (included)")
    weekdays: list[Weekday] = Field(default=[], description="nights by their evening's weekday")
    night_level: ScheduleLevel | None = Field(default=None, description="replaces night_level")
    steps: list[TimeStep] | None = Field(default=None, description="replaces steps")
    sunset_offset_s: Seconds | None = Field(
        default=None,
        ge=-_OFFSET_BOUND_S,
        le=_OFFSET_BOUND_S,
        description="replaces sunset_offset_s",
    )
    sunrise_offset_s: Seconds | None = Field(
        default=None,
        ge=-_OFFSET_BOUND_S,
        le=_OFFSET_BOUND_S,
        description="replaces sunrise_offset_s",
    )

    _steps = field_validator("steps")(_one_step_per_time)

    @model_validator(mode="after")
    def _one_kind_of_when(self) -> Self:
        kinds = [bool(self.dates), self.start is not None or self.end is not None]
        kinds.append(bool(self.weekdays))
        if sum(kinds) != 1:
            raise ValueError("give exactly one of dates, start and end, or weekdays")
        if kinds[1] and (self.start is None or self.end is None):
            raise ValueError("a date range needs both start and end")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self

    @property
    def rank(self) -> int:
        """Strength of the rule's kind: single dates 2, a date range 1, weekdays 0."""
        return 2 if self.dates else (1 if self.start is not None else 0)

    def covers(self, night: date) -> bool:
        if self.dates:
            return night in self.dates
        if self.start is not None and self.end is not None:
            return self.start <= night <= self.end
        return WEEKDAYS[night.weekday()] in self.weekdays


class Schedule(BaseModel):
    """Lit from sunset + offset to sunrise + offset, at `night_level`, then at each step's
    level from its time on; calendar exceptions change given nights."""

    model_config = STRICT
    sunset_offset_s: Seconds = Field(
        default=0,
        ge=-_OFFSET_BOUND_S,
        le=_OFFSET_BOUND_S,
        description="lamps go on at sunset plus this (negative: earlier)",
    )
    sunrise_offset_s: Seconds = Field(
        default=0,
        ge=-_OFFSET_BOUND_S,
        le=_OFFSET_BOUND_S,
        description="lamps go off at sunrise plus this",
    )
    night_level: ScheduleLevel = Field(
        default=0.3, description="the level from dusk until the first step"
    )
    steps: list[TimeStep] = Field(
        default=[], description='fixed-time steps, e.g. `{at: "01:00", level: 50%}`'
    )
    exceptions: list[CalendarException] = Field(
        default=[],
        description="calendar exceptions: a dated night beats a date range, "
        "which beats a weekday rule; among rules of one kind the later wins",
    )

    _steps = field_validator("steps")(_one_step_per_time)

    def for_night(self, night: date) -> "Schedule":
        """This schedule as it applies on the night of `night` (exceptions folded in)."""
        rules = [rule for rule in self.exceptions if rule.covers(night)]
        rules.sort(key=lambda rule: rule.rank)  # stable: file order kept within a rank
        keys = ("night_level", "steps", "sunset_offset_s", "sunrise_offset_s")
        update = {}
        for rule in rules:
            update.update({k: getattr(rule, k) for k in keys if getattr(rule, k) is not None})
        return self.model_copy(update={**update, "exceptions": []}) if rules else self

    def exception_names(self, night: date) -> list[str]:
        return [rule.name for rule in self.exceptions if rule.covers(night)]
