"""Zone occupancy: a zone between direction-aware counters is lit while walkers are in it.

Each detection in a state leaves the zone behind it (controllers.zones) and enters the one
ahead; a zone's occupancy is the walkers that entered minus those that left, never below
zero. While it is above zero, each segment of the zone is lit from `lead_s` before the
fastest walker who entered could reach it (the first since the zone was last empty: any
later one is behind that front), until the last walker has left: a walker who stops stays
lit wherever they stopped, and the light goes down as soon as they are counted out instead
of after a fixed hold. Safety when counts go wrong:
- a missed exit: each entry expires after the time the slowest walker needs to cross its
  gap (`slowest_walker_mps`), and the zone goes back to the presence rule;
- a counter that stops reporting (stale): its zones are emptied and handed to the fail-safe;
- a counter that reports no direction: its zones become open, and keep the presence rule.
Entries are matched to exits first in, first out; each match is a speed sample for the
street (controllers.speeds), which, with `learn_speeds`, sets the fastest walker the lead
prepares for (the wait for a missed exit stays the policy's slowest walker's crossing).
"""

from collections import deque

import numpy as np
import numpy.typing as npt

from controllers.resolve import Resolved
from controllers.speeds import SpeedRules, Speeds
from controllers.topology import BoolArray, Float32Array, IntArray, Topology
from controllers.zones import Zones, build_zones

CAPACITY = 256  # entries kept per gap; more walkers than this keep the zone lit anyway


class Occupancy:
    """The walkers in each zone, and the segments they keep lit."""

    def __init__(self, topology: Topology, resolved: Resolved, rules: SpeedRules) -> None:
        self.topology = topology
        self.zones: Zones = build_zones(topology, topology.counters)
        self.speeds = Speeds(topology.streets, rules)
        zones = self.zones
        self._entries: list[deque[float]] = [deque(maxlen=CAPACITY) for _ in zones.gap_state]
        self._count = np.zeros(zones.count, dtype=np.int64)
        self._open_at_s = np.full(len(zones.member_segment), np.inf)
        self._member_gap = zones.member_gap
        self._member_zone = zones.gap_zone[self._member_gap]
        self._closed = ~zones.zone_open.copy()
        self._lit = np.zeros(topology.size, dtype=np.bool_)
        self._gap_of_state = np.full(2 * topology.size, -1, dtype=np.int64)
        self._gap_of_state[zones.gap_state] = np.arange(len(zones.gap_state))
        self._gaps_of_zone = [
            np.flatnonzero(zones.gap_zone == z).tolist() for z in range(zones.count)
        ]
        self._oldest_s = np.full(len(zones.gap_state), np.inf)  # each gap's oldest entry
        self._reaches = np.zeros((len(zones.gap_state), topology.size), dtype=np.bool_)
        self._reaches[self._member_gap, zones.member_segment] = True  # walked, not turned back
        self._reaches[np.arange(len(zones.gap_state)), zones.gap_state // 2] = False
        self._timeout_s = np.full(len(zones.gap_state), np.inf)
        self.apply(resolved)

    def apply(self, resolved: Resolved) -> None:
        """Take a policy's settings (a reload keeps the walkers in their zones)."""
        self.resolved = resolved
        zones, on = self.zones, resolved.occupancy
        member_on = on[zones.member_segment]
        enabled = np.ones(zones.count, dtype=np.bool_)
        np.logical_and.at(enabled, self._member_zone, member_on)
        self._enabled = enabled & self._closed
        self._count[~self._enabled] = 0
        start = zones.gap_state // 2
        self._learn = resolved.learn_speeds[start]
        self._lead_s = resolved.lead_s[start]
        self._timeout_s = self._timeouts()

    def enters(self, state: int) -> bool:
        """Whether a detection in `state` enters a zone occupancy keeps."""
        zone = int(self.zones.entered[state])
        return zone >= 0 and bool(self._enabled[zone])

    def detect(
        self, segments: IntArray, directions: IntArray, now_s: float, counts: IntArray
    ) -> BoolArray:
        """Count walkers out of the zones behind them and into those ahead; which detections
        occupancy took (the others keep the presence rule)."""
        taken = np.zeros(len(segments), dtype=np.bool_)
        for k, (segment, direction, walkers) in enumerate(
            zip(segments.tolist(), directions.tolist(), counts.tolist(), strict=True)
        ):
            if direction == 0:
                self._undirected(segment)
                continue
            state = 2 * segment + (0 if direction > 0 else 1)
            for _ in range(max(int(walkers), 1)):
                self._leave(state, now_s)
                taken[k] = self._enter(state, now_s)
        return taken

    def lit(self, now_s: float) -> BoolArray | None:
        """Segments some zone's walkers keep lit at `now_s` (None: none)."""
        self._expire(now_s)
        if not self._count.any():
            return None
        rows = (self._count[self._member_zone] > 0) & (self._open_at_s <= now_s)
        self._lit.fill(False)
        self._lit[self.zones.member_segment[rows]] = True
        return self._lit

    def handed_back(self, stale: BoolArray) -> BoolArray | None:
        """Segments of the zones bounded by a stale counter (for the fail-safe); those zones
        forget their walkers, who can no longer be counted out."""
        zones = self.zones
        bound_stale = stale[zones.zone_counters]
        if not bound_stale.any():
            return None
        hit = np.zeros(zones.count, dtype=np.bool_)
        owner = np.repeat(np.arange(zones.count), np.diff(zones.counter_ptr))
        hit[owner[bound_stale]] = True
        for zone in np.flatnonzero(hit & (self._count > 0)).tolist():
            self._empty(zone)
        mask = np.zeros(self.topology.size, dtype=np.bool_)
        mask[zones.member_segment[hit[self._member_zone]]] = True
        return mask

    def walkers(self) -> IntArray:
        """How many walkers each zone holds."""
        return self._count.copy()

    def _enter(self, state: int, now_s: float) -> bool:
        zones = self.zones
        zone = int(zones.entered[state])
        if zone < 0 or not self._enabled[zone]:
            return False
        gap = int(self._gap_of_state[state])
        queue = self._entries[gap]
        if len(queue) == CAPACITY:
            self._count[zone] -= 1  # the oldest entry makes room (the zone stays lit)
        queue.append(now_s)
        self._oldest_s[gap] = queue[0]
        self._count[zone] += 1
        rows = slice(int(zones.member_ptr[gap]), int(zones.member_ptr[gap + 1]))
        fast_mps = self._fast_mps(gap, rows)
        opens_s = now_s + np.maximum(
            zones.member_distance_m[rows] / fast_mps - self._lead_s[gap], 0
        )
        np.minimum(self._open_at_s[rows], opens_s, out=self._open_at_s[rows])
        return True

    def _leave(self, state: int, now_s: float) -> None:
        """The walker leaves the zone behind: its oldest entry (first in, first out)."""
        zone = int(self.zones.left[state])
        if zone < 0 or self._count[zone] == 0:
            return  # never below zero: a walker nobody saw entering
        queued = [g for g in self._gaps_of_zone[zone] if self._entries[g]]
        if not queued:
            return
        # The walkers who came this way first (a speed sample), else whoever came first.
        ahead = [g for g in queued if self._reaches[g, state // 2]] or queued
        gap = min(ahead, key=lambda g: self._entries[g][0])
        queue = self._entries[gap]
        entered_s = queue.popleft()
        self._oldest_s[gap] = queue[0] if queue else np.inf
        self._count[zone] -= 1
        self._sample(gap, state // 2, now_s - entered_s)
        if self._count[zone] == 0:
            self._empty(zone)

    def _sample(self, gap: int, segment: int, took_s: float) -> None:
        """The walk from the gap's counter to `segment` over the time it took: a speed."""
        zones = self.zones
        rows = slice(int(zones.member_ptr[gap]), int(zones.member_ptr[gap + 1]))
        at = np.flatnonzero(zones.member_segment[rows] == segment)
        start = int(zones.gap_state[gap]) // 2
        same_street = self.topology.street_of[start] == self.topology.street_of[segment]
        if len(at) and took_s > 0 and same_street and segment != start:
            distance_m = float(zones.member_distance_m[rows][at[0]])
            self.speeds.add(int(self.topology.street_of[start]), distance_m / took_s)

    def _fast_mps(self, gap: int, rows: slice) -> Float32Array:
        """The fastest walker each segment of a gap prepares for."""
        segments = self.zones.member_segment[rows]
        fastest = self.resolved.fastest_walker_mps[segments]
        if not self._learn[gap]:
            return fastest.astype(np.float32)
        slowest = self.resolved.slowest_walker_mps[segments]
        fast, _ = self.speeds.bounded(self.topology.street_of[segments], fastest, slowest)
        return fast.astype(np.float32)

    def _timeouts(self) -> npt.NDArray[np.float64]:
        """How long an entry of each gap may wait for its exit: the policy's slowest walker's
        crossing. Never a learnt value: the learnt slow walker comes from the exits that
        were matched, so a shorter wait would drop the walkers who stop, whose exits would
        then be matched to later walkers, who would look faster still."""
        start = self.zones.gap_state // 2
        timeout_s: npt.NDArray[np.float64] = (
            self.zones.gap_length_m / self.resolved.slowest_walker_mps[start]
        )
        return timeout_s

    def _expire(self, now_s: float) -> None:
        """Entries whose exit was missed go, after the slowest walker's crossing."""
        late = np.flatnonzero(self._oldest_s + self._timeout_s < now_s)
        for gap in late.tolist():
            zone = int(self.zones.gap_zone[gap])
            queue = self._entries[gap]
            while queue and queue[0] + self._timeout_s[gap] < now_s:
                queue.popleft()
                self._count[zone] -= 1
            self._oldest_s[gap] = queue[0] if queue else np.inf
            if self._count[zone] <= 0:
                self._empty(zone)

    def _empty(self, zone: int) -> None:
        self._count[zone] = 0
        for gap in self._gaps_of_zone[zone]:
            self._entries[gap].clear()
            self._oldest_s[gap] = np.inf
        self._open_at_s[self._member_zone == zone] = np.inf

    def _undirected(self, segment: int) -> None:
        """A counter that does not know directions cannot bound a zone: its zones open."""
        zones = self.zones
        owner = np.repeat(np.arange(zones.count), np.diff(zones.counter_ptr))
        for zone in np.unique(owner[zones.zone_counters == segment]).tolist():
            self._empty(zone)
            self._closed[zone] = False
            self._enabled[zone] = False


def occupancy_for(
    topology: Topology, resolved: Resolved, current: Occupancy | None
) -> Occupancy | None:
    """The occupancy layer a policy needs (None where no segment has it); a reload keeps the
    walkers counted and the speeds learnt."""
    if not resolved.occupancy.any() or len(topology.counters) == 0:
        return None
    if current is not None:
        current.apply(resolved)
        return current
    speeds = resolved.policy.speeds
    rules = SpeedRules(
        speeds.samples, speeds.min_samples, speeds.fast_quantile, speeds.slow_quantile
    )
    return Occupancy(topology, resolved, rules)
