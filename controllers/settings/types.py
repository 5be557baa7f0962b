"""Annotated field types shared by the settings models: units in names, human forms accepted."""

from datetime import time
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, PlainValidator

from controllers.units import (
    parse_duration_s,
    parse_level,
    parse_ratio,
    parse_schedule_level,
    parse_time_of_day,
)

# Every settings model forbids unknown keys (a typo must never be silently ignored) and is frozen
# (a config is swapped whole on reload, never edited in place).
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

Seconds = Annotated[float, BeforeValidator(parse_duration_s)]
NonNegativeSeconds = Annotated[float, BeforeValidator(parse_duration_s), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(parse_duration_s), Field(gt=0)]
Ratio = Annotated[float, BeforeValidator(parse_ratio), Field(ge=0, le=1)]
Rate = Annotated[float, BeforeValidator(parse_ratio), Field(gt=0)]  # level per second
TimeOfDay = Annotated[time, BeforeValidator(parse_time_of_day)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
# A ratio (float), a lighting class ("P1".."P6") or "rated"; resolved per segment by
# controllers.levels. Plain validators keep pydantic from reporting one error per union member.
Level = Annotated[float | str, PlainValidator(parse_level)]
ScheduleLevel = Annotated[float | str, PlainValidator(parse_schedule_level)]

KeyPath = tuple[str | int, ...]
"""Where a value sits in a settings file: its keys and list indices, e.g. ("groups", "night", 0)."""
