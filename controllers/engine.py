"""The lighting engine: one vectorised step computes every segment's target level.

Layers, in order (README, "Policy"):
1. schedule: the astronomical window, fixed-time steps and calendar exceptions give lit/off
   and a level; 2. traffic: the class the rolling flow selects may raise it; 3. limits: the
   floor (while lit) and the maximum clamp that base level (Baseline);
4. presence: a detection raises its segment to the occupied level and the ones ahead to the
   ahead level for `hold_s`, never below the base and never while the schedule says off;
5. fail-safe: a segment whose sensors have all gone silent goes to the fail-safe level;
6. override: an operator's level replaces the result until it expires (capped by the maximum,
   not raised by the floor);
7. fades: each change gets the ramp of its direction, lengthened to respect the ramp limit.
The base level only changes on schedule steps, class changes and policy swaps, so a step is a
few passes over float32 arrays: presence, fail-safe, override and what changed.
"""

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

import numpy as np
import numpy.typing as npt

from controllers.baseline import Baseline
from controllers.fades import Fades
from controllers.occupancy import Occupancy, fastest_for, occupancy_for
from controllers.resolve import Resolved, resolve_policy
from controllers.schedule import AstronomicalClock, Program, ScheduleState
from controllers.settings.policy import Policy
from controllers.step_buffers import StepBuffers
from controllers.topology import BoolArray, Float32Array, FloatArray, IntArray, Topology
from controllers.traffic import Classes, Flow

Int8Array = npt.NDArray[np.int8]


class Reason(IntEnum):
    """Which layer decided a segment's level; names are the wire contract's `reason` values."""

    SCHEDULE = 0
    TRAFFIC = 1
    PRESENCE = 2
    OVERRIDE = 3
    FAILSAFE = 4
    OCCUPANCY = 5


REASON_NAMES = tuple(r.name.lower() for r in Reason)


@dataclass(frozen=True, eq=False)
class Step:
    """One step's targets, their fades, and every component that explains them.

    The arrays are the engine's own buffers, valid until its next call: copy what you keep.
    `schedule_level` is the static program (schedule within the limits; 0 where off),
    `traffic_class` the P-class index in force (-1: none), `occupied_level` the level a
    segment gets when occupied (by default its rated class) and `floor` its floor while lit.
    `base_level` is schedule and traffic within the limits; `presence_level` and
    `failsafe_level` what those layers asked for (None: nowhere). The reason of each segment
    follows from them, and is worked out only for the segments asked about (`reason_of`), or
    for all on first use of `reason`.
    """

    now_s: float
    level: Float32Array
    ramp_s: Float32Array
    base_level: Float32Array
    base_reason: Int8Array
    presence_level: Float32Array | None
    failsafe_level: Float32Array | None
    lit: BoolArray
    schedule_level: Float32Array
    traffic_class: Int8Array
    traffic_level: Float32Array
    presence: BoolArray
    failsafe: BoolArray
    override: BoolArray
    occupied_level: Float32Array
    floor: Float32Array
    schedule: tuple[ScheduleState, ...]
    occupancy_level: Float32Array | None = None

    @property
    def any_lit(self) -> bool:
        return bool(self.lit.any())

    @cached_property
    def reason(self) -> Int8Array:
        """The layer that decided each segment's level (Reason values)."""
        return self.reason_of(slice(None))

    def reason_of(self, segments: IntArray | slice) -> Int8Array:
        """The layer that decided the level of `segments`: the base (schedule or traffic),
        raised by presence, raised further by the fail-safe, replaced by an override."""
        reason: Int8Array = self.base_reason[segments].copy()
        below = self.base_level[segments]
        if self.presence_level is not None:
            raised = self.presence_level[segments]
            reason[raised > below] = Reason.PRESENCE
            below = np.maximum(below, raised)
        if self.occupancy_level is not None:
            kept = self.occupancy_level[segments]
            reason[kept > below] = Reason.OCCUPANCY
            below = np.maximum(below, kept)
        if self.failsafe_level is not None:
            reason[self.failsafe_level[segments] > below] = Reason.FAILSAFE
        reason[self.override[segments]] = Reason.OVERRIDE
        return reason


class Engine:
    """Per-segment state as arrays; `step(now_s)` is pure given that state and the policy."""

    def __init__(self, topology: Topology, policy: Policy, clock: AstronomicalClock) -> None:
        self.topology = topology
        self._clock = clock
        size = topology.size
        self._occupied_until_s = np.full(size, -np.inf)
        self._ahead_until_s = np.full(size, -np.inf)
        self._ahead_from_s = np.full(size, np.inf)  # when an ahead window opens (staggered)
        self._presence_until_s = np.full(size, -np.inf)  # the later of the two
        self._has_sensor = np.zeros(size, dtype=np.bool_)
        self._last_seen_s = np.full(size, np.nan)
        self._stale_at_s = np.full(size, np.inf)  # last seen + stale_after_s
        self._override_level = np.zeros(size, dtype=np.float32)
        self._override_until_s = np.full(size, -np.inf)
        self._level = np.zeros(size, dtype=np.float32)  # the last step's targets
        self._spare = np.zeros(size, dtype=np.float32)  # the next step's, swapped each step
        self._buffers = StepBuffers.of(size)
        self._fades = Fades(size)
        self._baseline = Baseline(topology)
        self._classes = Classes(topology)
        self._flow = Flow(topology, policy.traffic.window_s)
        self.occupancy: Occupancy | None = None  # zones between counters, when enabled
        self.replace_policy(policy)

    @property
    def resolved(self) -> Resolved:
        """The policy as per-segment arrays (occupied level, floor, max, ...)."""
        return self._resolved

    def replace_policy(self, policy: Policy) -> None:
        """Swap the policy between steps; presence, overrides, flows and fades carry over, so
        levels continue from where the lamps are, within the new ramp limits."""
        self.policy = policy
        previous: Resolved | None = getattr(self, "_resolved", None)
        self._resolved = resolve_policy(policy, self.topology)
        was_staggered = previous is not None and previous.staggered
        if self._resolved.staggered and not was_staggered:
            self._ahead_from_s.fill(-np.inf)  # windows opened under the old policy stay open
        self._programs = [Program(self._clock, s) for s in self._resolved.schedules]
        if policy.traffic.window_s != self._flow.window_s:
            self._flow = Flow(self.topology, policy.traffic.window_s)  # a new window starts
        stale_at = self._last_seen_s + self._resolved.stale_after_s
        self._stale_at_s = np.where(self._has_sensor, stale_at, np.inf)
        self._traffic_on = any(rule.enabled for rule in self._resolved.traffic)
        self._classes.update(np.arange(self.topology.size), self._flow, self._resolved)
        self._baseline.invalidate()
        self.occupancy = occupancy_for(self.topology, self._resolved, self.occupancy)

    def register_sensors(self, segments: IntArray, now_s: float) -> None:
        """Segments that have sensors; their silence counts from `now_s`."""
        self._has_sensor[segments] = True
        self._last_seen_s[segments] = now_s
        self._stale_at_s[segments] = now_s + self._resolved.stale_after_s[segments]

    def seen(self, segments: IntArray, now_s: float) -> None:
        """A sensor on these segments spoke (any reading, even a zero count)."""
        self._last_seen_s[segments] = np.fmax(self._last_seen_s[segments], now_s)
        stale_at = self._last_seen_s[segments] + self._resolved.stale_after_s[segments]
        self._stale_at_s[segments] = np.where(self._has_sensor[segments], stale_at, np.inf)

    def detect(
        self,
        segments: IntArray,
        directions: IntArray,
        now_s: float,
        counts: IntArray | None = None,
    ) -> None:
        """Walkers seen on `segments` moving in `directions` (+1, -1, 0 unknown); `counts`
        walkers each (default 1) feed the traffic flow of segments with a counter."""
        segments = np.asarray(segments, dtype=np.int64)
        directions = np.asarray(directions, dtype=np.int64)
        walkers = np.ones(len(segments), dtype=np.int64) if counts is None else counts
        held = np.ones(len(segments), dtype=np.bool_)
        if self.occupancy is not None:  # walkers counted into a zone need no hold
            held = ~self.occupancy.detect(segments, directions, now_s, np.asarray(walkers))
        self._hold(segments[held], directions[held], now_s)
        self.seen(segments, now_s)
        self._advance_traffic(now_s)
        # Counted even while traffic is off, so that a policy turning it on starts informed.
        slots = self._flow.add(segments, np.asarray(walkers, dtype=np.int64), now_s)
        if len(slots) and self._traffic_on:
            covered = self._flow.covered(np.unique(slots))
            moved = self._classes.update(covered, self._flow, self._resolved)
            self._baseline.classes_moved(moved, self._resolved, self._classes.level)

    def _hold(self, segments: IntArray, directions: IntArray, now_s: float) -> None:
        """The presence rule: hold the segments, and light the ones ahead."""
        resolved = self._resolved
        until_s = now_s + resolved.hold_s[segments]
        np.maximum.at(self._occupied_until_s, segments, until_s)
        np.maximum.at(self._presence_until_s, segments, until_s)
        steps = resolved.lookahead[segments]
        if steps.any():
            self._look_ahead(segments, directions, steps, until_s, now_s)

    def _look_ahead(
        self,
        segments: IntArray,
        directions: IntArray,
        steps: IntArray,
        until_s: FloatArray,
        now_s: float,
    ) -> None:
        """Raise the segments ahead of each detection until `until_s`. With a fastest walker
        set, each opens `lead_s` before that walker could enter it; windows that overlap
        one still running merge into one (the earlier start, the later end)."""
        resolved = self._resolved
        ahead, origin, distance_m = self.topology.ahead_with_distance(segments, directions, steps)
        ends_s = until_s[origin]
        np.maximum.at(self._presence_until_s, ahead, ends_s)
        if resolved.staggered:
            source = segments[origin]
            fastest_mps = fastest_for(self.occupancy, resolved, source)  # maybe learnt
            travel_s = distance_m / fastest_mps - resolved.lead_s[source]
            opens_s = now_s + np.maximum(travel_s, 0.0)
            ended = ahead[self._ahead_until_s[ahead] <= now_s]
            self._ahead_from_s[ended] = np.inf  # a window that ended does not reach back
            np.minimum.at(self._ahead_from_s, ahead, opens_s)
        np.maximum.at(self._ahead_until_s, ahead, ends_s)

    def set_override(self, segments: IntArray, level: float, until_s: float) -> None:
        self._override_level[segments] = level
        self._override_until_s[segments] = until_s

    def clear_override(self, segments: IntArray) -> None:
        self._override_until_s[segments] = -np.inf

    def overrides(self, now_s: float) -> tuple[IntArray, Float32Array, FloatArray]:
        """The overrides in force at `now_s`: segments, levels, absolute expiry times."""
        active = np.flatnonzero(self._override_until_s > now_s)
        return active, self._override_level[active].copy(), self._override_until_s[active].copy()

    @property
    def flow(self) -> Flow:
        """The traffic counts over the rolling window (what a restart carries over)."""
        return self._flow

    def restore_overrides(
        self, overrides: tuple[IntArray, Float32Array, FloatArray], now_s: float
    ) -> int:
        """Overrides of a previous run (as `overrides` gave them); one that expired meanwhile
        is not restored. How many segments were."""
        segments, levels, until_s = overrides
        alive = until_s > now_s
        self._override_level[segments[alive]] = levels[alive]
        self._override_until_s[segments[alive]] = until_s[alive]
        return int(alive.sum())

    def restore_flow(self, bucket: int, ring: IntArray) -> None:
        """Traffic counts of a previous run (as `flow.counts()` gave them), classes with them."""
        self._flow.restore(bucket, ring)
        self._classes.update(np.arange(self.topology.size), self._flow, self._resolved)

    def step(self, now_s: float) -> Step:
        """Targets for every segment at `now_s`."""
        states = [program.state(now_s) for program in self._programs]
        self._advance_traffic(now_s)
        base, resolved = self._baseline, self._resolved
        base.schedule(states, resolved, self._classes.level)
        level = self._spare
        np.copyto(level, base.level)
        buffers = self._buffers
        presence, failsafe, override = buffers.presence, buffers.failsafe, buffers.override
        raised = self._presence(now_s, base.lit, presence, buffers.window)
        np.less(self._stale_at_s, now_s, out=failsafe)
        if self.occupancy is not None and failsafe.any():
            handed = self.occupancy.handed_back(failsafe)  # its zones go to the fail-safe
            if handed is not None:
                failsafe |= handed
        kept = self._occupied(now_s, base.lit)
        failsafe &= base.lit
        safe = self._raise(failsafe, resolved.failsafe_level, buffers.failsafe_level)
        np.greater(self._override_until_s, now_s, out=override)
        if override.any():
            chosen = np.flatnonzero(override)  # the floor does not bind an operator's override
            level[chosen] = np.minimum(self._override_level[chosen], resolved.max[chosen])
        self._retarget(level, now_s)
        self._spare, self._level = self._level, level
        return Step(
            now_s=now_s,
            level=level,
            ramp_s=self._fades.ramp_s,
            base_level=base.level,
            base_reason=base.reason,
            presence_level=raised,
            failsafe_level=safe,
            lit=base.lit,
            schedule_level=base.schedule_level,
            traffic_class=self._classes.current,
            traffic_level=self._classes.level,
            presence=presence,
            failsafe=failsafe,
            override=override,
            occupied_level=resolved.occupied_level,
            floor=resolved.floor,
            schedule=tuple(states),
            occupancy_level=kept,
        )

    def _occupied(self, now_s: float, lit: BoolArray) -> Float32Array | None:
        """Raise the segments that zone occupancy keeps lit (never by day)."""
        if self.occupancy is None:
            return None
        kept = self.occupancy.lit(now_s)
        if kept is None:
            return None
        window = self._buffers.window
        np.logical_and(kept, lit, out=window)
        return self._raise(window, self._resolved.occupied_level, self._buffers.occupancy_level)

    def _presence(
        self, now_s: float, lit: BoolArray, presence: BoolArray, scratch: BoolArray
    ) -> Float32Array | None:
        """Raise occupied segments and those ahead (presence never lights by day); the levels
        presence asked for, or None where it asked for nothing."""
        np.greater(self._presence_until_s, now_s, out=presence)
        presence &= lit
        resolved, raised = self._resolved, self._buffers.presence_level
        if resolved.staggered and presence.any():
            self._drop_unopened(now_s, presence, scratch)
        if resolved.same_ahead:
            return self._raise(presence, resolved.occupied_level, raised)
        if not presence.any():
            return None
        np.greater(self._ahead_until_s, now_s, out=scratch)
        scratch &= lit
        if resolved.staggered:
            scratch &= self._ahead_from_s <= now_s
        np.multiply(resolved.ahead_level, scratch, out=raised)
        np.greater(self._occupied_until_s, now_s, out=scratch)
        scratch &= lit
        occupied = self._buffers.occupied_level
        np.multiply(resolved.occupied_level, scratch, out=occupied)
        np.maximum(raised, occupied, out=raised)
        np.maximum(self._spare, raised, out=self._spare)
        return raised

    def _drop_unopened(self, now_s: float, presence: BoolArray, scratch: BoolArray) -> None:
        """Presence without the ahead windows that have not opened yet: occupied, or ahead
        and open ((O | A) & (O | open) is O | (A & open))."""
        np.less_equal(self._ahead_from_s, now_s, out=scratch)
        occupied = self._buffers.occupied
        np.greater(self._occupied_until_s, now_s, out=occupied)
        scratch |= occupied
        presence &= scratch

    def _raise(self, where: BoolArray, to: Float32Array, out: Float32Array) -> Float32Array | None:
        """The step's level = max(level, to) where `where`, branch-free (masks are scattered,
        so dense passes beat masked writes); `out` gets the raised levels (0 elsewhere)."""
        if not where.any():
            return None
        np.multiply(to, where, out=out)
        np.maximum(self._spare, out, out=self._spare)
        return out

    def _retarget(self, level: Float32Array, now_s: float) -> None:
        """New fades for the segments whose target changed since the last step."""
        changed = self._buffers.changed
        np.not_equal(level, self._level, out=changed)
        if not changed.any():
            return
        moved = np.flatnonzero(changed)
        r = self._resolved
        ramps = (r.ramp_up_s[moved], r.ramp_down_s[moved], r.max_ramp_per_s[moved])
        self._fades.retarget(moved, self._level[moved], level[moved], now_s, ramps)

    def _advance_traffic(self, now_s: float) -> None:
        """Expire old counts; when some expired, re-select the classes they fed."""
        fell = self._flow.advance(now_s)
        if len(fell) and self._traffic_on:
            moved = self._classes.update(self._flow.covered(fell), self._flow, self._resolved)
            self._baseline.classes_moved(moved, self._resolved, self._classes.level)
