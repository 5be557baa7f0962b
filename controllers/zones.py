"""Zones between direction-aware counters: where a walker is between two of its detections.

A counter on segment c sees each walker entering c, and which way. A walker seen entering c
heading h is in the *gap* of the state (c, h): c itself, then every segment it can reach
without entering another counter's segment, up to and including the counter segments it
would enter next (the gap's *frontier* states: the detections that end it). Gaps that share
a frontier state are merged into one *zone* (union-find): a detection in that state then
leaves exactly one zone, whichever way the walker came (a junction in the middle of a counter
segment merges the zones on its sides). A walker who turns back leaves by its own counter,
the other way: that state is a frontier too, so the gaps of one stretch of street in both
directions are one zone. A gap from which a walker can leave the network
without being counted (a street end without a counter, a walk longer than `MAX_HOPS`) makes
its zone *open*: occupancy cannot tell when its walkers left, so they keep the presence rule.

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
    `left[state]` the zone it leaves (-1: none). Gap k (of `gap_state`) covers the segments
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
    graph = topology.graph
    gaps = [
        _walk(graph, state, is_counter, topology.length_m)
        for c in np.unique(counters).tolist()
        for state in (2 * c, 2 * c + 1)
    ]
    parent = list(range(len(gaps)))
    by_frontier: dict[int, int] = {}
    for k, gap in enumerate(gaps):
        for state in gap.frontier:
            first = by_frontier.setdefault(state, k)
            _union(parent, first, k)
    roots = [_find(parent, k) for k in range(len(gaps))]
    codes = {root: z for z, root in enumerate(dict.fromkeys(roots))}
    gap_zone = np.array([codes[r] for r in roots], dtype=np.int64)
    zone_open = np.zeros(len(codes), dtype=np.bool_)
    for k, gap in enumerate(gaps):
        zone_open[gap_zone[k]] |= gap.open
    return _arrays(topology, gaps, gap_zone, zone_open, by_frontier)


def _walk(graph: StateGraph, start: int, is_counter: BoolArray, length_m: FloatArray) -> _Gap:
    """The gap of a detection in state `start`: shortest distances, frontier, openness."""
    distance = {start // 2: 0.0}
    frontier: set[int] = set()
    states = [start]
    opened = False
    for _ in range(MAX_HOPS):
        reached: list[int] = []
        for state in states:
            nexts = graph.successor[graph.ptr[state] : graph.ptr[state + 1]].tolist()
            opened |= not nexts  # a street end without a counter: walkers leave unseen
            walked = distance[state // 2] + float(length_m[state // 2])
            for following in nexts:
                segment = following // 2
                if walked < distance.get(segment, np.inf):
                    distance[segment] = walked
                if is_counter[segment]:
                    frontier.add(following)
                elif following not in reached:
                    reached.append(following)
        if not reached:
            break
        states = reached
    else:
        opened = True
    ends = [distance[s // 2] for s in frontier]
    # A walker who turns back leaves through the counter it came by: that is an exit too, so
    # the zones on the same segments either way are one zone.
    frontier.add(start ^ 1)
    return _Gap(start, distance, frontier, opened, max(ends, default=0.0))


def _arrays(
    topology: Topology,
    gaps: list[_Gap],
    gap_zone: IntArray,
    zone_open: BoolArray,
    by_frontier: dict[int, int],
) -> Zones:
    states = 2 * topology.size
    entered = np.full(states, -1, dtype=np.int64)
    left = np.full(states, -1, dtype=np.int64)
    bounds: list[set[int]] = [set() for _ in range(len(zone_open))]
    for k, gap in enumerate(gaps):
        zone = int(gap_zone[k])
        entered[gap.state] = -1 if zone_open[zone] else zone
        bounds[zone].add(gap.state // 2)
        bounds[zone].update(s // 2 for s in gap.frontier)
    for state, k in by_frontier.items():
        left[state] = int(gap_zone[k])
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
