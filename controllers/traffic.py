"""Traffic-adaptive classes: a rolling pedestrian flow per counter selects a P-class per segment.

Counts go into `BUCKETS` buckets spanning the window, so expiring old counts is one pass over
the counters every `window_s / BUCKETS`, not work per step. A segment's flow is its nearest
counter's on its street (Topology.flow_source). Classes change only when their input does:
right after a detection (a busy street steps up at once) and when a bucket expires (a quiet
street steps down within a bucket's time); between those nothing here runs.
"""

import numpy as np
import numpy.typing as npt

from controllers.classes import class_level
from controllers.resolve import Resolved, TrafficRule
from controllers.topology import Float32Array, FloatArray, IntArray, Topology

BUCKETS = 15
_SECONDS_PER_HOUR = 3600.0
NO_CLASS = -1
_NONE = np.zeros(0, dtype=np.int64)
Int8Array = npt.NDArray[np.int8]


class Flow:
    """Pedestrians counted per counter segment over the rolling window."""

    def __init__(self, topology: Topology, window_s: float) -> None:
        counters = topology.counters
        self.window_s = window_s
        self.bucket_s = window_s / BUCKETS
        self.slot = np.full(topology.size + 1, -1, dtype=np.int64)  # +1: the "none" sentinel
        self.slot[counters] = np.arange(len(counters))
        self._ring = np.zeros((BUCKETS, len(counters)), dtype=np.int64)
        self._total = np.zeros(len(counters), dtype=np.int64)
        self._bucket: int | None = None
        # Segments grouped by the counter they take their flow from (CSR), for `covered`.
        source_slot = self.slot[topology.flow_source]
        self._by_source = np.argsort(source_slot, kind="stable")
        sorted_slots = source_slot[self._by_source]
        self._source_ptr = np.searchsorted(sorted_slots, np.arange(len(counters) + 1))
        self.source_slot = source_slot

    def advance(self, now_s: float) -> IntArray:
        """Move the window to `now_s`; the counter slots whose counts left it (their flows
        fell), empty when none did."""
        bucket = int(now_s // self.bucket_s)
        if self._bucket is None or bucket <= self._bucket:
            self._bucket = bucket if self._bucket is None else self._bucket
            return _NONE
        fell = np.zeros(len(self._total), dtype=np.bool_)
        for step in range(self._bucket + 1, min(bucket, self._bucket + BUCKETS) + 1):
            row = self._ring[step % BUCKETS]
            if row.any():
                fell |= row > 0
                self._total -= row
                row[:] = 0
        if bucket - self._bucket >= BUCKETS:  # a gap longer than the window: all expired
            fell |= self._total > 0
            self._ring[:] = 0
            self._total[:] = 0
        self._bucket = bucket
        return np.flatnonzero(fell) if fell.any() else _NONE

    def counts(self) -> tuple[int | None, IntArray]:
        """What a restart needs: the current bucket (None: nothing counted yet) and the ring
        [BUCKETS, counters] of walkers per bucket (a copy)."""
        return self._bucket, self._ring.copy()

    def restore(self, bucket: int, ring: IntArray) -> None:
        """Counts of a previous run (same window and counters); the totals follow."""
        self._bucket = bucket
        self._ring[:] = ring
        self._total[:] = ring.sum(axis=0)

    def add(self, segments: IntArray, counts: IntArray, now_s: float) -> IntArray:
        """Count walkers on counter segments; the counter slots that changed, once per walker
        (repeats left in: only a caller that acts on them pays for removing them)."""
        self.advance(now_s)
        slots = self.slot[segments]
        counted = slots >= 0
        slots, counts = slots[counted], counts[counted]
        assert self._bucket is not None
        np.add.at(self._ring[self._bucket % BUCKETS], slots, counts)
        np.add.at(self._total, slots, counts)
        return slots

    def per_h(self, slots: IntArray) -> FloatArray:
        """Pedestrians per hour at these counters over the window; 0 for slot -1 (a segment
        whose street has no counter: a site may have none at all)."""
        rate: FloatArray = np.zeros(len(slots))
        counted = slots >= 0
        rate[counted] = self._total[slots[counted]]
        return rate * (_SECONDS_PER_HOUR / self.window_s)

    def covered(self, slots: IntArray) -> IntArray:
        """Segments whose flow comes from these counter slots."""
        first = self._source_ptr[slots]
        counts = self._source_ptr[slots + 1] - first
        total = int(counts.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        found: IntArray = self._by_source[np.repeat(first, counts) + offsets]
        return found


def select(flow_per_h: FloatArray, current: Int8Array, rule: TrafficRule) -> Int8Array:
    """The class for each flow: up when above a busier class's threshold × (1 + h), down when
    below the current one's × (1 − h), otherwise unchanged; the quietest listed class when no
    threshold is reached. `current` NO_CLASS means no class yet (the quietest listed)."""
    listed = np.flatnonzero(~np.isnan(rule.thresholds_per_h))
    thresholds = rule.thresholds_per_h[listed]
    up = listed[_first_reached(flow_per_h, thresholds * (1 + rule.hysteresis))]
    down = listed[_first_reached(flow_per_h, thresholds * (1 - rule.hysteresis))]
    now = np.where(current == NO_CLASS, listed[-1], current)
    chosen = np.where(up < now, up, np.where(down > now, down, now))
    return chosen.astype(np.int8)


def _first_reached(flow_per_h: FloatArray, thresholds: FloatArray) -> IntArray:
    """Position of the busiest threshold each flow reaches (thresholds fall; last if none)."""
    unreached = np.searchsorted(-thresholds, -flow_per_h, side="left")
    return np.minimum(unreached, len(thresholds) - 1).astype(np.int64)


class Classes:
    """The class in force on each segment (NO_CLASS where traffic does not apply) and its
    level through the segment's photometry."""

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self.current = np.full(topology.size, NO_CLASS, dtype=np.int8)
        self.level = np.zeros(topology.size, dtype=np.float32)

    def update(self, segments: IntArray, flow: Flow, resolved: Resolved) -> IntArray:
        """Re-select the class of `segments`; those whose level changed."""
        changed = []
        single = len(resolved.traffic) == 1
        combos = None if single else resolved.combo_of[segments]
        for combo, rule in enumerate(resolved.traffic):
            idx = segments if combos is None else segments[combos == combo]
            if len(idx) == 0:
                continue
            slots = flow.source_slot[idx]
            if not rule.enabled:
                classes = np.full(len(idx), NO_CLASS, dtype=np.int8)
            else:
                classes = select(flow.per_h(slots), self.current[idx], rule)
                if not rule.above_rated:
                    classes = np.maximum(classes, self._topology.rated_class[idx]).astype(np.int8)
                classes[slots < 0] = NO_CLASS  # a street without a counter keeps its schedule
            level = self._level(idx, classes)
            moved = level != self.level[idx]
            self.current[idx] = classes
            self.level[idx] = level
            changed.append(idx[moved])
        return np.concatenate(changed) if changed else np.zeros(0, dtype=np.int64)

    def _level(self, idx: IntArray, classes: Int8Array) -> Float32Array:
        lux = self._topology.lux_at_full_lx[idx]
        level = class_level(lux, np.maximum(classes, 0).astype(np.int64)).astype(np.float32)
        level[classes == NO_CLASS] = 0.0
        return level
