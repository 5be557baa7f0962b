"""The level a segment has with nobody about: schedule and traffic class, within the limits.

It only changes when the schedule moves to another step, when the policy is swapped, or when
a traffic class changes, so it is kept as arrays and rebuilt on those events rather than on
every step (a full rebuild when the schedule or policy changes, a partial one for the segments
whose class moved).
"""

import numpy as np
import numpy.typing as npt

from controllers.levels import resolve
from controllers.resolve import Resolved
from controllers.schedule import ScheduleState
from controllers.topology import Float32Array, IntArray, Topology

Int8Array = npt.NDArray[np.int8]
SCHEDULE, TRAFFIC = 0, 1  # the values of engine.Reason for these two


class Baseline:
    """Per segment: lit, the schedule's level (limits applied), and the base level and reason
    (schedule or traffic) that presence, fail-safe and overrides start from."""

    def __init__(self, topology: Topology) -> None:
        size = topology.size
        self._topology = topology
        self.lit = np.zeros(size, dtype=np.bool_)
        self.schedule_level = np.zeros(size, dtype=np.float32)
        self.level = np.zeros(size, dtype=np.float32)
        self.reason = np.zeros(size, dtype=np.int8)
        self._raw = np.zeros(size, dtype=np.float32)  # the schedule's level before limits
        self._key: tuple[tuple[bool, float | str], ...] | None = None

    def schedule(
        self, states: list[ScheduleState], resolved: Resolved, traffic: Float32Array
    ) -> bool:
        """Adopt the schedule states of this instant; True when anything had to be rebuilt."""
        key = tuple((s.lit, s.level) for s in states)
        if key == self._key:
            return False
        self._key = key
        size = self._topology.size
        lit, raw = np.zeros(size, dtype=np.bool_), np.zeros(size, dtype=np.float32)
        for combo, members in enumerate(resolved.members):
            state = states[resolved.schedule_of_combo[combo]]
            if state.lit:
                lit[members] = True
                raw[members] = resolve(state.level, self._topology, members)
        # New arrays rather than writes in place: a Step already handed out keeps its own.
        self.lit, self._raw = lit, raw
        self._rebuild(resolved, traffic, None)
        return True

    def invalidate(self) -> None:
        """Rebuild on the next `schedule` call (the policy changed)."""
        self._key = None

    def classes_moved(self, segments: IntArray, resolved: Resolved, traffic: Float32Array) -> None:
        """Some traffic levels changed: rebuild those segments only."""
        if len(segments):
            self._rebuild(resolved, traffic, segments)

    def _rebuild(
        self, resolved: Resolved, traffic: Float32Array, segments: IntArray | None
    ) -> None:
        part = slice(None) if segments is None else segments
        lit, raw = self.lit[part], self._raw[part]
        floor, top = resolved.floor[part], resolved.max[part]
        schedule = np.where(lit, np.minimum(np.maximum(raw, floor), top), np.float32(0))
        raised = lit & (traffic[part] > raw)
        level = np.where(raised, np.minimum(np.maximum(traffic[part], floor), top), schedule)
        reason = np.where(raised & (level > schedule), TRAFFIC, SCHEDULE).astype(np.int8)
        if segments is None:
            self.schedule_level, self.level, self.reason = schedule, level, reason
        else:
            self.schedule_level[segments] = schedule
            self.level[segments] = level
            self.reason[segments] = reason
