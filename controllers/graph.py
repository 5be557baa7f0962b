"""Walking the street network: streets are ordered chains of segments, junctions join them.

A walker is a *state*: a segment and a heading along its street (forward, increasing `order`,
or backward). State `2 * segment` heads forward, `2 * segment + 1` backward. From a state the
walker can go on along the street, or, where the segment belongs to a junction that lies ahead
of it, onto every other segment of that junction, heading away from the junction.

Where a junction lies on a segment follows from the segment's place on its street: at the
start of the street's first segment, at the end of its last one, and on both sides of a
segment in the middle (a side street meeting the main one). Successors are kept as CSR arrays
(`ptr`, `successor`), so that walking a batch of walkers is a few gathers per step.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FORWARD, BACKWARD = 0, 1


@dataclass(frozen=True, eq=False)
class StateGraph:
    """Successor states of every state, CSR: `successor[ptr[s]:ptr[s + 1]]`."""

    ptr: IntArray
    successor: IntArray


def junction_sides(next_index: IntArray, prev_index: IntArray) -> tuple[BoolArray, BoolArray]:
    """(at_end, at_start): whether a junction on each segment lies ahead of a walker heading
    forward, or backward. A street's first segment has its junction at its start, its last at
    its end, any other (or a street of one segment) on both sides."""
    size = len(next_index)
    first = prev_index == size
    last = next_index == size
    at_end: BoolArray = last | ~first
    at_start: BoolArray = first | ~last
    return at_end, at_start


def build_graph(
    next_index: IntArray, prev_index: IntArray, junction_ptr: IntArray, members: IntArray
) -> StateGraph:
    """The successor arrays for streets chained by next/prev and the junctions' members."""
    size = len(next_index)
    sources = [2 * np.flatnonzero(next_index < size), 2 * np.flatnonzero(prev_index < size) + 1]
    targets = [2 * next_index[next_index < size], 2 * prev_index[prev_index < size] + 1]
    at_end, at_start = junction_sides(next_index, prev_index)
    for j in range(len(junction_ptr) - 1):
        joined = members[junction_ptr[j] : junction_ptr[j + 1]].tolist()
        for a in joined:
            arriving = [2 * a] * bool(at_end[a]) + [2 * a + 1] * bool(at_start[a])
            for b in joined:
                if b == a:
                    continue
                leaving = [2 * b] * bool(at_start[b]) + [2 * b + 1] * bool(at_end[b])
                for state in arriving:
                    sources.append(np.full(len(leaving), state, dtype=np.int64))
                    targets.append(np.array(leaving, dtype=np.int64))
    source = np.concatenate(sources).astype(np.int64)
    target = np.concatenate(targets).astype(np.int64)
    order = np.argsort(source, kind="stable")
    counts = np.bincount(source, minlength=2 * size)
    ptr = np.zeros(2 * size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return StateGraph(ptr, target[order])


def start_states(start: IntArray, direction: IntArray) -> tuple[IntArray, IntArray]:
    """(states, origin): +1 heads forward, -1 backward, 0 both ways; `origin` is the position
    in `start` each state comes from."""
    positions = np.arange(len(start))
    forward = direction >= 0
    backward = direction <= 0
    states = np.concatenate([2 * start[forward], 2 * start[backward] + 1])
    origin = np.concatenate([positions[forward], positions[backward]])
    return states.astype(np.int64), origin.astype(np.int64)


def ahead(
    graph: StateGraph,
    start: IntArray,
    direction: IntArray,
    steps: IntArray,
    length_m: FloatArray | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """(segments, origin, distance_m) reached in 1 to `steps[origin]` steps from each start;
    the start segments themselves are not included. Once a walk forks, each (origin, state)
    is kept once, by its shortest walk, so that junctions cannot multiply the work; before
    any fork walks cannot meet (bar the two walks of an undirected start around a ring of
    streets, whose repeats are harmless: callers take maxima and minima).

    `distance_m` is how far a walker who just entered its start segment walks before entering
    each segment (the shortest way, when junctions give several): the lengths of the segments
    it leaves on the way. Without `length_m` it is 0.
    """
    states, origin = start_states(start, direction)
    size = (len(graph.ptr) - 1) // 2
    lengths = np.zeros(size) if length_m is None else length_m
    walked = np.zeros(len(states))
    branched = False
    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    for hop in range(1, int(steps.max(initial=0)) + 1):
        keep = steps[origin] >= hop
        states, origin, walked = states[keep], origin[keep], walked[keep]
        walked = walked + lengths[states // 2]
        states, parent, forked = _successors(graph, states, np.arange(len(states)))
        if len(states) == 0:
            break
        origin, walked = origin[parent], walked[parent]
        branched |= forked
        if branched:
            states, origin, walked = _shortest_per_state(states, origin, walked, size)
        found.append((states // 2, origin, walked))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    segments, origins, distances = (np.concatenate(part) for part in zip(*found, strict=True))
    return segments, origins, distances


def _shortest_per_state(
    states: IntArray, origin: IntArray, walked: FloatArray, size: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """One entry per (origin, state), the one reached by the shortest walk: a junction can
    lead back where a walker was, and forks can meet again."""
    key = origin * (2 * size) + states
    order = np.lexsort((walked, key))
    key = key[order]
    first = order[np.concatenate(([True], key[1:] != key[:-1]))]
    return states[first], origin[first], walked[first]


def _successors(
    graph: StateGraph, states: IntArray, origin: IntArray
) -> tuple[IntArray, IntArray, bool]:
    """Every successor of every state, with the origin it inherits; whether any state had
    more than one."""
    first = graph.ptr[states]
    counts = graph.ptr[states + 1] - first
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, False
    if total == len(states) and (counts == 1).all():  # no fork, no dead end: a plain gather
        return graph.successor[first], origin, False
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    forked = bool(counts.max() > 1)
    return graph.successor[np.repeat(first, counts) + offsets], np.repeat(origin, counts), forked


def nearest_source(
    sources: IntArray, next_index: IntArray, prev_index: IntArray
) -> tuple[IntArray, IntArray]:
    """(source, hops): for every segment the nearest segment of `sources` on its own street
    (ties go to the one before it), and how many segments away; -1 where the street has none."""
    size = len(next_index)
    source = np.full(size + 1, -1, dtype=np.int64)  # the extra slot is the "none" sentinel
    hops = np.full(size + 1, 2 * size + 2, dtype=np.int64)  # farther than any segment
    source[sources] = sources
    hops[sources] = 0
    for _ in range(size):
        changed = False
        for neighbour in (prev_index, next_index):  # from behind first: ties go to it
            candidate = hops[neighbour] + 1
            better = (source[neighbour] >= 0) & (candidate < hops[:size])
            if better.any():
                changed = True
                source[:size][better] = source[neighbour][better]
                hops[:size][better] = candidate[better]
        if not changed:
            break
    return source[:size], np.where(source[:size] >= 0, hops[:size], -1)
