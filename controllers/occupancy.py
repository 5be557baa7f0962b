"""Zone occupancy: a zone between direction-aware counters is lit while walkers are in it.

Each detection in a state leaves the zone behind it (controllers.zones; on a junction's
counter segment, the one of the zones it may end that holds walkers, or none when several
do) and enters the one ahead; a zone's occupancy is the walkers that entered minus those
that left, never below zero. While it is above zero, each segment of the zone is lit from
`lead_s` before the fastest walker who entered could reach it (the first since the zone was
last empty: any later one is behind that front), until the last walker has left: a walker
who stops stays lit wherever they stopped, and the light goes down as soon as they are
counted out instead of after a fixed hold. Safety when counts go wrong:
- a missed exit: each entry expires after the time the slowest walker needs to cross its
  gap (`slowest_walker_mps`), and the zone goes back to the presence rule; the expired
  entry is kept, unlit, for as long again, and the next exits take it first: a walker
  slower than that (a long stop) who is counted out late then takes their own expired
  entry, not that of a walker still inside;
- a counter that stops reporting (stale): its zones are emptied and handed to the fail-safe;
- a counter that reports no direction: its zones become open, and keep the presence rule.
Which walker a detection counts out is not known (a walker who stops is overtaken), so it
takes the entry that would run out first (the earliest entered plus its gap's wait): what
stays counted then always outlasts the walkers still inside, whoever they are. Only a zone
that held a single walker tells which walk an exit ends: that pairing is a speed sample for
the street (controllers.speeds), which, with `learn_speeds`, sets the fastest walker the
leads prepare for, the zones' and the presence look-ahead's (the wait for a missed exit
stays the policy's slowest walker's crossing).
"""

import heapq
from collections import deque

import numpy as np
import numpy.typing as npt

from controllers.resolve import Resolved
from controllers.speeds import SpeedRules, Speeds
from controllers.topology import BoolArray, Float32Array, FloatArray, IntArray, Topology
from controllers.zones import Zones, build_zones

# One entry: (when it runs out, when it was counted in, its gap), kept as a heap per zone.
Entry = tuple[float, float, int]


class Occupancy:
    """The walkers in each zone, and the segments they keep lit."""

    def __init__(self, topology: Topology, resolved: Resolved, rules: SpeedRules) -> None:
        self.topology = topology
        self.zones: Zones = build_zones(topology, topology.counters)
        self.speeds = Speeds(topology.streets, rules)
        zones = self.zones
        self._entries: list[list[Entry]] = [[] for _ in range(zones.count)]
        self._count = np.zeros(zones.count, dtype=np.int64)
        self._runs_out_s = np.full(zones.count, np.inf)  # each zone's first entry to run out
        self._expired: list[deque[float]] = [deque() for _ in range(zones.count)]  # kept until
        self._open_at_s = np.full(len(zones.member_segment), np.inf)
        self._member_gap = zones.member_gap
        self._member_zone = zones.gap_zone[self._member_gap]
        self._closed = ~zones.zone_open.copy()
        self._lit = np.zeros(topology.size, dtype=np.bool_)
        self._gap_of_state = np.full(2 * topology.size, -1, dtype=np.int64)
        self._gap_of_state[zones.gap_state] = np.arange(len(zones.gap_state))
        gaps, segments = self._member_gap, zones.member_segment
        walked = segments != zones.gap_state[gaps] // 2  # the counter's own segment: no walk
        # (gap, segment) pairs a gap's walkers reach, for the speed samples
        self._reaches = set(zip(gaps[walked].tolist(), segments[walked].tolist(), strict=True))
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
        for zone in np.flatnonzero(~self._enabled & (self._count > 0)).tolist():
            self._forget(zone)
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
        for zone in np.flatnonzero(hit).tolist():
            if self._count[zone] or self._expired[zone]:
                self._forget(zone)
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
        entries = self._entries[zone]
        heapq.heappush(entries, (now_s + float(self._timeout_s[gap]), now_s, gap))
        self._runs_out_s[zone] = entries[0][0]
        self._count[zone] = len(entries)
        rows = slice(int(zones.member_ptr[gap]), int(zones.member_ptr[gap + 1]))
        fast_mps = self._fast_mps(gap, rows)
        opens_s = now_s + np.maximum(
            zones.member_distance_m[rows] / fast_mps - self._lead_s[gap], 0
        )
        np.minimum(self._open_at_s[rows], opens_s, out=self._open_at_s[rows])
        return True

    def _leave(self, state: int, now_s: float) -> None:
        """A walker leaves the zone behind: the entry that would run out first goes. Where
        the detection may end a walk in several zones (a junction's counter), only the one
        holding walkers can be it; with several holding walkers, none is counted out (their
        entries run out instead)."""
        zones = self.zones
        ended = zones.left_zones[zones.left_ptr[state] : zones.left_ptr[state + 1]].tolist()
        for zone in ended:
            if self._take_expired(zone, now_s):
                return  # a late walker, or one whose own entry outlives the one taken
        holding = [zone for zone in ended if self._count[zone] > 0]
        if len(holding) != 1:
            return  # never below zero: a walker nobody saw entering; or ambiguous
        zone = holding[0]
        entries = self._entries[zone]
        alone = len(entries) == 1  # then the entry is this walker's own: a speed sample
        _, entered_s, gap = heapq.heappop(entries)
        self._count[zone] = len(entries)
        self._runs_out_s[zone] = entries[0][0] if entries else np.inf
        if alone and len(ended) == 1 and (gap, state // 2) in self._reaches:
            self._sample(gap, state // 2, now_s - entered_s)
        if not entries:
            self._empty(zone)

    def _take_expired(self, zone: int, now_s: float) -> bool:
        """Take one of the zone's expired entries still kept, if any."""
        expired = self._expired[zone]
        while expired and expired[0] < now_s:
            expired.popleft()
        if not expired:
            return False
        expired.popleft()
        return True

    def _sample(self, gap: int, segment: int, took_s: float) -> None:
        """The walk from the gap's counter to `segment` over the time it took: a speed, kept
        when within the policy's slowest and fastest walkers (outside: a miscount)."""
        zones = self.zones
        rows = slice(int(zones.member_ptr[gap]), int(zones.member_ptr[gap + 1]))
        at = np.flatnonzero(zones.member_segment[rows] == segment)
        start = int(zones.gap_state[gap]) // 2
        same_street = self.topology.street_of[start] == self.topology.street_of[segment]
        if not (len(at) and took_s > 0 and same_street):
            return
        speed_mps = float(zones.member_distance_m[rows][at[0]]) / took_s
        resolved = self.resolved  # no fastest walker set: inf, no upper bound
        if resolved.slowest_walker_mps[start] <= speed_mps <= resolved.fastest_walker_mps[start]:
            self.speeds.add(int(self.topology.street_of[start]), speed_mps)

    def _fast_mps(self, gap: int, rows: slice) -> Float32Array:
        """The fastest walker each segment of a gap prepares for."""
        segments = self.zones.member_segment[rows]
        if not self._learn[gap]:
            return self.resolved.fastest_walker_mps[segments].astype(np.float32)
        return self.fastest_mps(segments).astype(np.float32)

    def fastest_mps(self, segments: IntArray) -> FloatArray:
        """The fastest walker a lead prepares for on `segments` (the presence look-ahead's
        too): with `learn_speeds`, its street's learnt fast walker within the policy's
        slowest and fastest walkers; otherwise, or before enough samples, the policy's."""
        resolved = self.resolved
        fastest: FloatArray = resolved.fastest_walker_mps[segments]
        learn = resolved.learn_speeds[segments]
        if not learn.any():
            return fastest
        street = self.topology.street_of[segments]
        fast, _ = self.speeds.bounded(street, fastest, resolved.slowest_walker_mps[segments])
        chosen: FloatArray = np.where(learn, fast, fastest)
        return chosen

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
        for zone in np.flatnonzero(self._runs_out_s < now_s).tolist():
            entries = self._entries[zone]
            while entries and entries[0][0] < now_s:
                runs_out_s, entered_s, _ = heapq.heappop(entries)
                self._expired[zone].append(2 * runs_out_s - entered_s)
            self._count[zone] = len(entries)
            self._runs_out_s[zone] = entries[0][0] if entries else np.inf
            if not entries:
                self._empty(zone)

    def _empty(self, zone: int) -> None:
        """Nobody left to light (expired entries stay, for the late walkers' exits)."""
        self._count[zone] = 0
        self._entries[zone].clear()
        self._runs_out_s[zone] = np.inf
        self._open_at_s[self._member_zone == zone] = np.inf

    def _forget(self, zone: int) -> None:
        """A zone whose counts can no longer be trusted: no walkers, nothing expired."""
        self._empty(zone)
        self._expired[zone].clear()

    def _undirected(self, segment: int) -> None:
        """A counter that does not know directions cannot bound a zone: its zones open."""
        zones = self.zones
        owner = np.repeat(np.arange(zones.count), np.diff(zones.counter_ptr))
        for zone in np.unique(owner[zones.zone_counters == segment]).tolist():
            self._forget(zone)
            self._closed[zone] = False
            self._enabled[zone] = False


def fastest_for(occupancy: Occupancy | None, resolved: Resolved, segments: IntArray) -> FloatArray:
    """The fastest walker the presence look-ahead prepares for on `segments`: learnt where
    the policy learns speeds, else the policy's."""
    if occupancy is None:
        fastest: FloatArray = resolved.fastest_walker_mps[segments]
        return fastest
    return occupancy.fastest_mps(segments)


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
