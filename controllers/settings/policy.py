"""The policy file operators tune: when lamps are lit, how presence raises them, the limits."""

from pydantic import BaseModel, Field

from controllers.settings.types import (
    STRICT,
    NonNegativeSeconds,
    PositiveSeconds,
    Ratio,
    Seconds,
)


class Schedule(BaseModel):
    """Astronomical clock: lit from sunset + offset to sunrise + offset, at `night_level`."""

    model_config = STRICT
    sunset_offset_s: Seconds = Field(default=0, ge=-7200, le=7200)
    sunrise_offset_s: Seconds = Field(default=0, ge=-7200, le=7200)
    night_level: Ratio = 0.3


class Presence(BaseModel):
    """A detection raises its segment and the ones ahead for `hold_s`."""

    model_config = STRICT
    level: Ratio = 1.0
    hold_s: NonNegativeSeconds = 60
    ramp_up_s: NonNegativeSeconds = 1
    ramp_down_s: NonNegativeSeconds = 10
    lookahead_segments: int = Field(default=2, ge=0, le=20)


class Limits(BaseModel):
    """Clamps applied last, whenever the schedule says lit."""

    model_config = STRICT
    floor: Ratio = 0.1
    max: Ratio = 1.0


class Commands(BaseModel):
    """What goes on the wire: only changes above the dead-band, plus a periodic refresh."""

    model_config = STRICT
    deadband: Ratio = 0.02
    refresh_s: PositiveSeconds = 300


class Failsafe(BaseModel):
    """A segment whose sensors have all been silent for `stale_after_s` goes to `level`."""

    model_config = STRICT
    stale_after_s: PositiveSeconds | None = None
    level: Ratio = 1.0


class Policy(BaseModel):
    """The whole file `config/policy.yaml`."""

    model_config = STRICT
    schedule: Schedule = Schedule()
    presence: Presence = Presence()
    limits: Limits = Limits()
    commands: Commands = Commands()
    failsafe: Failsafe = Failsafe()

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Rules that span fields: (key path, message) pairs."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.limits.floor > self.limits.max:
            found.append(
                (
                    ("limits", "floor"),
                    f"must not exceed limits.max ({self.limits.max:g}, got {self.limits.floor:g})",
                )
            )
        return found
