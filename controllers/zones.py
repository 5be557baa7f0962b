"""Zones between direction-aware counters: where a walker is between two of its detections.

A counter on segment c sees each walker entering c, and which way. A walker seen entering c
heading h is in the *gap* of the state (c, h): c itself, then every segment it can reach
without entering another counter's segment, up to and including the counter segments it
would enter next (the gap's *frontier* states: the detections that end it). A walker who
turns back leaves by its own counter, the other way: that state is a frontier too, so the
gaps of one stretch of street in both directions are one *zone* (union-find). Stretches
that meet at a junction stay apart: a detection on a junction's counter segment may end a
walk of either, and `left_zones[left_ptr[state]:left_ptr[state + 1]]` lists the zones it
may leave (controllers.occupancy counts out of the only one that holds walkers, and
otherwise out of none). A gap from which a walker can leave the network
without being counted (a street end without a counter, a walk longer than `MAX_HOPS`), or
which it can enter uncounted (a street end without a counter, even where a junction joins
it: people come out of buildings and cross the road), makes its zone *open*: occupancy
cannot tell when its walkers left, so they keep the presence rule.

A counter on a street's end segment sees walkers entering the street there, from the
junction or from outside: such a detection leaves no zone (`left` is -1), since counting a
newcomer out would count out a walker who is still inside. A walker who came off the
junction that way stays counted until its wait runs out (controllers.occupancy).

Built once per topology, with python loops over counters (a few per street); the engine's
per-step work is on the arrays.
"""

from dataclasses import dataclass

import numpy as np

from controllers.graph import StateGraph
from controllers.topology import BoolArray, FloatArray, IntArray, Topology

MAX_HOPS = 12  # a gap longer than this is treated as open: no counter bounds it usefully


@dataclass(frozen=True, eq=False)
class Zones:
    """Gaps and zones as arrays; a gap is numbered by its start state (2 * counter + heading).

    `entered[state]` is the zone a detection in that state enters (-1: none, or open),
    `left[state]` the zone it leaves (-1: none, or one of several: `left_zones` lists them,
    CSR by `left_ptr`). Gap k (of `gap_state`) covers the segments
    `member_segment[member_ptr[k]:member_ptr[k + 1]]`, each `member_distance_m` from where
    its walker was seen (the shortest way); `gap_length_m[k]` is the walk to its farthest
    frontier. `zone_open[z]` marks open zones, `zone_counters` the counter segments that
    bound each zone (CSR by `counter_ptr`).
    """

    gap_state: IntArray
    gap_zone: IntArray
    gap_length_m: FloatArray
    member_ptr: IntArray
    member_segment: IntArray
    member_distance_m: FloatArray
    entered: IntArray
    left: IntArray
    left_ptr: IntArray
    left_zones: IntArray
    zone_open: BoolArray
    counter_ptr: IntArray
    zone_counters: IntArray

    @property
    def count(self) -> int:
        return len(self.zone_open)

    @property
    def member_gap(self) -> IntArray:
        """The gap of every member row."""
        return np.repeat(np.arange(len(self.gap_state)), np.diff(self.member_ptr))


@dataclass
class _Gap:
    state: int
    distance_m: dict[int, float]
    frontier: set[int]
    open: bool
    length_m: float


def build_zones(topology: Topology, counters: IntArray) -> Zones:
    """The zones bounded by the counters on `counters` (segment indices)."""
    is_counter = np.zeros(topology.size, dtype=np.bool_)
    is_counter[counters] = True
    net = _Net.of(topology, is_counter)
    gaps = [_walk(net, state) for c in np.unique(counters).tolist() for state in (2 * c, 2 * c + 1)]
    # A detection entering a street at its end leaves no zone (it may be a newcomer).
    from_end = set(_from_street_ends(topology))
    ending: dict[int, list[int]] = {}  # state -> the gaps whose walks it may end
    for k, gap in enumerate(gaps):
        for state in gap.frontier - from_end:
            ending.setdefault(state, []).append(k)
    parent = _stretches(topology, gaps, ending)
    roots = [_find(parent, k) for k in range(len(gaps))]
    codes = {root: z for z, root in enumerate(dict.fromkeys(roots))}
    gap_zone = np.array([codes[r] for r in roots], dtype=np.int64)
    zone_open = np.zeros(len(codes), dtype=np.bool_)
    for k, gap in enumerate(gaps):
        zone_open[gap_zone[k]] |= gap.open
    return _arrays(topology, gaps, gap_zone, zone_open, ending)


def _stretches(topology: Topology, gaps: list[_Gap], ending: dict[int, list[int]]) -> list[int]:
    """Union-find parents: a gap and those a walker who turns back in it would end (the
    same stretch the other way, on its street); and every gap a detection may end, where
    one of them is open (a walker counted nowhere must count nobody out)."""
    parent = list(range(len(gaps)))
    street_of = topology.street_of
    for k, gap in enumerate(gaps):
        street = street_of[gap.state // 2]
        for g in ending.get(gap.state ^ 1, []):
            if street_of[gaps[g].state // 2] == street:
                _union(parent, k, g)
    for ended in ending.values():
        if any(gaps[g].open for g in ended):
            for g in ended:
                _union(parent, ended[0], g)
    return parent


def _from_street_ends(topology: Topology) -> list[int]:
    """States that enter a street from its end: forward on a first segment, backward on a
    last one."""
    size = topology.size
    first = np.flatnonzero(topology.prev_index == size)
    last = np.flatnonzero(topology.next_index == size)
    return [*(2 * first).tolist(), *(2 * last + 1).tolist()]


@dataclass(frozen=True, eq=False)
class _Net:
    """What a gap's walk needs of the topology."""

    graph: StateGraph
    length_m: FloatArray
    street_of: IntArray
    is_counter: BoolArray
    middle: BoolArray  # not a street's end: a junction on it may lie anywhere along it
    uncounted_end: BoolArray  # a street end without a counter: walkers come and go unseen

    @classmethod
    def of(cls, topology: Topology, is_counter: BoolArray) -> "_Net":
        size = topology.size
        at_end = (topology.next_index == size) | (topology.prev_index == size)
        return cls(
            topology.graph,
            topology.length_m,
            topology.street_of,
            is_counter,
            ~at_end,
            at_end & ~is_counter,
        )


def _walk(net: _Net, start: int) -> _Gap:
    """The gap of a detection in state `start`: distances, frontier, openness.

    Two distances: the least a walker can have walked to enter each segment (what the lead
    needs; a junction on a middle segment may lie anywhere along it, so the walk through it
    on the way to or from the junction may be nil) and the walk to each frontier across whole
    segments (what the wait for a missed exit needs)."""
    graph, length_m = net.graph, net.length_m
    near = {start: 0.0}  # per state: the least walk to where the walker enters it
    mid = {start: False}  # per state: entered off a junction, somewhere inside the segment
    far = {start // 2: 0.0}
    distance = {start // 2: 0.0}
    frontier: set[int] = set()
    states = [start]
    opened = False
    for _ in range(MAX_HOPS):
        reached: list[int] = []
        for state in states:
            here = state // 2
            nexts = graph.successor[graph.ptr[state] : graph.ptr[state + 1]].tolist()
            opened |= not nexts  # a street end without a counter: walkers leave unseen
            through_m = 0.0 if mid[state] else float(length_m[here])
            for following in nexts:
                segment = following // 2
                turns = bool(net.street_of[segment] != net.street_of[here])
                walked_m = near[state] + (0.0 if turns and net.middle[here] else through_m)
                far[segment] = min(far.get(segment, np.inf), far[here] + float(length_m[here]))
                distance[segment] = min(distance.get(segment, np.inf), walked_m)
                if net.is_counter[segment]:
                    frontier.add(following)
                    continue
                opened |= bool(net.uncounted_end[segment])  # walkers may appear there unseen
                if walked_m < near.get(following, np.inf):
                    near[following] = walked_m
                    mid[following] = turns and bool(net.middle[segment])
                    reached.append(following)
        if not reached:
            break
        states = reached
    else:
        opened = True
    ends = [far[s // 2] for s in frontier]
    # A walker who turns back leaves through the counter it came by: that is an exit too, so
    # the zones on the same segments either way are one zone.
    frontier.add(start ^ 1)
    return _Gap(start, distance, frontier, opened, max(ends, default=0.0))


def _arrays(
    topology: Topology,
    gaps: list[_Gap],
    gap_zone: IntArray,
    zone_open: BoolArray,
    ending: dict[int, list[int]],
) -> Zones:
    states = 2 * topology.size
    entered = np.full(states, -1, dtype=np.int64)
    left = np.full(states, -1, dtype=np.int64)
    leaves: list[list[int]] = [[] for _ in range(states)]
    bounds: list[set[int]] = [set() for _ in range(len(zone_open))]
    for k, gap in enumerate(gaps):
        zone = int(gap_zone[k])
        entered[gap.state] = -1 if zone_open[zone] else zone
        bounds[zone].add(gap.state // 2)
        bounds[zone].update(s // 2 for s in gap.frontier)
    for state, ended in ending.items():
        leaves[state] = sorted({int(gap_zone[g]) for g in ended})
        if len(leaves[state]) == 1:
            left[state] = leaves[state][0]
    sizes = [len(g.distance_m) for g in gaps]
    counted = [sorted(b) for b in bounds]
    return Zones(
        gap_state=np.array([g.state for g in gaps], dtype=np.int64),
        gap_zone=gap_zone,
        gap_length_m=np.array([g.length_m for g in gaps], dtype=np.float64),
        member_ptr=np.cumsum([0, *sizes]).astype(np.int64),
        member_segment=np.array([s for g in gaps for s in g.distance_m], dtype=np.int64),
        member_distance_m=np.array([d for g in gaps for d in g.distance_m.values()]),
        entered=entered,
        left=left,
        left_ptr=np.cumsum([0, *map(len, leaves)]).astype(np.int64),
        left_zones=np.array([z for zs in leaves for z in zs], dtype=np.int64),
        zone_open=zone_open,
        counter_ptr=np.cumsum([0, *map(len, counted)]).astype(np.int64),
        zone_counters=np.array([c for b in counted for c in b], dtype=np.int64),
    )


def _find(parent: list[int], k: int) -> int:
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
