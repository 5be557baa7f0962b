"""The lighting engine: one vectorised step computes every segment's target level.

Layers, in order (DESIGN.md, "The controller"):
1. schedule: lit between sunset and sunrise (with offsets) at the night level, else off;
2. presence: a detection raises its segment and the ones ahead for `hold_s`, never below the
   schedule and never while the schedule says off;
3. fail-safe: a segment whose sensors have all gone silent is lit at the fail-safe level;
4. override: an operator's level replaces the result until it expires;
5. limits: floor (while lit) and maximum clamp everything.
The engine outputs targets with the ramp time the lamp should take to reach them; lamps fade
themselves (as DALI drivers do), so a presence raise costs one command, not a stream of steps.
"""

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.topology import BoolArray, FloatArray, IntArray, Topology


class Reason(IntEnum):
    """Which layer decided a segment's level; names are the wire contract's `reason` values."""

    SCHEDULE = 0
    TRAFFIC = 1
    PRESENCE = 2
    OVERRIDE = 3
    FAILSAFE = 4


REASON_NAMES = tuple(r.name.lower() for r in Reason)


@dataclass(frozen=True, eq=False)
class Step:
    """One step's result: targets, ramps, and the components that explain them."""

    now_s: float
    lit: bool
    level: FloatArray
    ramp_s: FloatArray
    reason: npt.NDArray[np.int8]
    schedule_level: FloatArray
    presence: BoolArray
    failsafe: BoolArray
    override: BoolArray


class Engine:
    """Per-segment state as arrays; `step(now_s)` is pure given that state and the policy."""

    def __init__(self, topology: Topology, policy: Policy, clock: AstronomicalClock) -> None:
        self.topology = topology
        self.policy = policy
        self._clock = clock
        size = topology.size
        self._presence_until_s = np.full(size, -np.inf)
        self._has_sensor = np.zeros(size, dtype=np.bool_)
        self._last_seen_s = np.full(size, np.nan)
        self._override_level = np.zeros(size)
        self._override_until_s = np.full(size, -np.inf)
        self._previous_level = np.zeros(size)

    def replace_policy(self, policy: Policy) -> None:
        """Swap the policy between steps; state (presence, overrides, levels) carries over."""
        self.policy = policy

    def register_sensors(self, segments: IntArray, now_s: float) -> None:
        """Segments that have sensors; their silence counts from `now_s`."""
        self._has_sensor[segments] = True
        self._last_seen_s[segments] = now_s

    def seen(self, segments: IntArray, now_s: float) -> None:
        """A sensor on these segments spoke (any reading, even a zero count)."""
        self._last_seen_s[segments] = np.fmax(self._last_seen_s[segments], now_s)

    def detect(self, segments: IntArray, directions: IntArray, now_s: float) -> None:
        """Walkers seen on `segments` moving in `directions` (+1, -1, 0 unknown)."""
        presence = self.policy.presence
        lit = self.topology.walk(segments, directions, presence.lookahead_segments)
        np.maximum.at(self._presence_until_s, lit, now_s + presence.hold_s)
        self.seen(segments, now_s)

    def set_override(self, segments: IntArray, level: float, until_s: float) -> None:
        self._override_level[segments] = level
        self._override_until_s[segments] = until_s

    def clear_override(self, segments: IntArray) -> None:
        self._override_until_s[segments] = -np.inf

    def step(self, now_s: float) -> Step:
        """Targets for every segment at `now_s`.

        Every layer but the override yields one level for the whole site (night, presence,
        fail-safe), so limits are applied to those scalars once, and the arrays are written
        only where presence, stale sensors or overrides are: a step costs a few passes over
        memory, whatever the policy.
        """
        policy = self.policy
        schedule = policy.schedule
        lit = self._clock.is_lit(now_s, schedule.sunset_offset_s, schedule.sunrise_offset_s)
        size = self.topology.size
        night = schedule.night_level if lit else 0.0
        boost = max(night, policy.presence.level)

        level = np.full(size, self._limit(night, lit))
        reason = np.zeros(size, dtype=np.int8)  # Reason.SCHEDULE everywhere to start with
        presence = self._presence_until_s > now_s
        presence &= lit  # presence never switches lamps on by day
        if boost > night:
            raised = np.flatnonzero(presence)
            level[raised] = self._limit(boost, lit)
            reason[raised] = Reason.PRESENCE

        failsafe = self._stale(now_s)
        failsafe &= lit
        stale = np.flatnonzero(failsafe)
        before = np.where(presence[stale], boost, night)
        raised = stale[before < policy.failsafe.level]
        level[raised] = self._limit(policy.failsafe.level, lit)
        reason[raised] = Reason.FAILSAFE

        override = self._override_until_s > now_s
        chosen = np.flatnonzero(override)  # the floor does not bind an operator's override
        level[chosen] = np.minimum(self._override_level[chosen], policy.limits.max)
        reason[chosen] = Reason.OVERRIDE

        rising = level >= self._previous_level
        ramp_s = np.where(rising, policy.presence.ramp_up_s, policy.presence.ramp_down_s)
        self._previous_level = level
        schedule_level = np.broadcast_to(np.float64(night), (size,))
        return Step(now_s, lit, level, ramp_s, reason, schedule_level, presence, failsafe, override)

    def _limit(self, level: float, lit: bool) -> float:
        """Floor (while lit) then maximum, for one of the site-wide levels."""
        limits = self.policy.limits
        return min(max(level, limits.floor) if lit else level, limits.max)

    def _stale(self, now_s: float) -> BoolArray:
        limit = self.policy.failsafe.stale_after_s
        if limit is None:
            return np.zeros(self.topology.size, dtype=np.bool_)
        # NaN (never seen) compares False, which only matters for segments without sensors.
        stale: BoolArray = self._last_seen_s < (now_s - limit)
        stale &= self._has_sensor
        return stale
