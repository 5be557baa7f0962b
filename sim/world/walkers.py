"""Pedestrians walking the district's streets, all of them as numpy arrays.

Each street is the chain of its segments by `order`. Walkers arrive at either end of a street
(Poisson arrivals, rate per street from `sim.world.rates`), walk towards the other end at their own
speed, may stop on the way or turn at a junction onto another street, and leave at an end.
`step` returns every segment entry that happened during the step, with its exact time, so a
fast simulation (one step can cross several segments) still triggers every pedestrian counter
it passes.

All streets are laid end to end on one line (`StreetLayout`), so finding the segment under
every walker is one `searchsorted`, whatever the number of streets.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from controllers.topology import BoolArray, FloatArray, IntArray, Topology
from sim.world.junctions import Behaviour, JunctionPoint, Turn, junction_arrays
from sim.world.rates import Rates

# Walkers per hour per street, by local hour (index 0 is 00:00). A city-centre night: busy
# evening, a trickle before dawn, the morning commute. Values are interpolated between hours.
DEFAULT_RATE_PER_H: tuple[float, ...] = (
    14, 9, 5, 2, 2, 4, 12, 28, 35, 25, 20, 22,  # 00h-11h
    25, 22, 20, 22, 28, 36, 40, 40, 32, 26, 20, 16,  # 12h-23h
)  # fmt: skip

# Keeps a walker standing exactly on its street's far end inside the last segment.
_END_MARGIN_M = 1e-6


@dataclass(frozen=True, eq=False)
class StreetLayout:
    """Segments laid street after street on one line; a `slot` is a position on that line."""

    segment_of_slot: IntArray
    slot_start_m: FloatArray
    slot_end_m: FloatArray
    street_start_m: FloatArray
    street_length_m: FloatArray

    @property
    def streets(self) -> int:
        return len(self.street_start_m)

    def slot_at(self, street: IntArray, position_m: FloatArray) -> IntArray:
        """Slot under each walker; the far end of a street belongs to its last segment."""
        clipped = np.clip(position_m, 0.0, self.street_length_m[street] - _END_MARGIN_M)
        line_m = self.street_start_m[street] + clipped
        slot: IntArray = np.searchsorted(self.slot_start_m, line_m, side="right") - 1
        return slot


def street_layout(topology: Topology) -> StreetLayout:
    """Chains rebuilt from `prev_index`/`next_index`; streets in the topology's street order."""
    size = topology.size
    heads = sorted(np.flatnonzero(topology.prev_index == size), key=lambda i: topology.street_of[i])
    slots: list[int] = []
    street_start_m: list[float] = []
    for head in heads:
        street_start_m.append(float(topology.length_m[slots].sum()))
        index = int(head)
        while index != size:
            slots.append(index)
            index = int(topology.next_index[index])
    segment_of_slot = np.array(slots, dtype=np.int64)
    lengths = topology.length_m[segment_of_slot]
    ends = np.cumsum(lengths)
    starts = np.array(street_start_m)
    return StreetLayout(
        segment_of_slot=segment_of_slot,
        slot_start_m=ends - lengths,
        slot_end_m=ends,
        street_start_m=starts,
        street_length_m=np.append(starts[1:], ends[-1]) - starts,
    )


@dataclass(frozen=True, eq=False)
class Entries:
    """Walker `walker[i]` entered `segment[i]` at `time_s[i]` moving `direction[i]` (±1)."""

    walker: IntArray
    segment: IntArray
    direction: IntArray
    time_s: FloatArray

    def __len__(self) -> int:
        return len(self.walker)


class Walkers:
    """Active walkers as parallel arrays; ids count up from 0 and are never reused.

    Junctions plug in as `JunctionPoint`s (both ways are listed): the topology knows streets
    only, so where they meet is the scenario's to say.
    """

    def __init__(
        self,
        topology: Topology,
        zone: ZoneInfo,
        rng: np.random.Generator,
        rate_per_h: Sequence[float] | Rates = DEFAULT_RATE_PER_H,
        *,
        behaviour: Behaviour | None = None,
        junctions: Sequence[JunctionPoint] = (),
        forward_share: Sequence[float] | None = None,
    ) -> None:
        self.layout = street_layout(topology)
        streets = self.layout.streets
        if isinstance(rate_per_h, Rates):
            self.rates = rate_per_h
        else:
            self.rates = Rates.flat(zone, streets, rate_per_h)
        self._rng = rng
        self._behaviour = behaviour or Behaviour()
        self._forward_share = np.asarray(forward_share or [0.5] * streets, dtype=np.float64)
        self._junctions = junction_arrays(junctions)
        self.total = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self._street = np.zeros(0, dtype=np.int64)
        self._position_m = np.zeros(0)
        self._direction = np.zeros(0, dtype=np.int64)
        self._speed_mps = np.zeros(0)
        self._slot = np.zeros(0, dtype=np.int64)
        self._pause_s = np.zeros(0)

    @property
    def segments(self) -> IntArray:
        """Topology index of the segment under each active walker (same order as `ids`)."""
        return self.layout.segment_of_slot[self._slot]

    def per_segment(self, size: int) -> IntArray:
        """Active walkers on each of the `size` segments."""
        return np.bincount(self.segments, minlength=size).astype(np.int64)

    def step(self, now_s: float, dt_s: float) -> Entries:
        """Advance from `now_s - dt_s` to `now_s`: arrivals, walking, turns, departures."""
        elapsed_s = np.full(len(self.ids), max(dt_s, 0.0))
        arrivals = self._arrive(now_s, dt_s)
        elapsed_s = np.concatenate([elapsed_s, now_s - arrivals.time_s])
        moved = self._move(now_s, elapsed_s)
        return _sorted(_concat(arrivals, moved))

    def _arrive(self, now_s: float, dt_s: float) -> Entries:
        """New walkers at both ends of every street; each one enters its first segment."""
        streets = self.layout.streets
        rate = self.rates.at(now_s) * max(dt_s, 0.0) / 3600
        share = np.column_stack([self._forward_share, 1 - self._forward_share]).ravel()
        counts = self._rng.poisson(np.repeat(rate, 2) * share)
        count = int(counts.sum())
        street = np.repeat(np.repeat(np.arange(streets, dtype=np.int64), 2), counts)
        direction = np.repeat(np.tile(np.array([1, -1], dtype=np.int64), streets), counts)
        low, high = self._behaviour.speed_range_mps
        speed_mps = self._rng.uniform(low, high, count)
        time_s = now_s - self._rng.uniform(0.0, max(dt_s, 0.0), count)
        position_m = np.where(direction > 0, 0.0, self.layout.street_length_m[street])
        ids = np.arange(self.total, self.total + count, dtype=np.int64)
        slot = self.layout.slot_at(street, position_m)
        self.total += count
        self.ids = np.concatenate([self.ids, ids])
        self._street = np.concatenate([self._street, street])
        self._position_m = np.concatenate([self._position_m, position_m])
        self._direction = np.concatenate([self._direction, direction])
        self._speed_mps = np.concatenate([self._speed_mps, speed_mps])
        self._slot = np.concatenate([self._slot, slot])
        self._pause_s = np.concatenate([self._pause_s, np.zeros(count)])
        return Entries(ids, self.layout.segment_of_slot[slot], direction, time_s)

    def _move(self, now_s: float, elapsed_s: FloatArray) -> Entries:
        """Walk every walker for its `elapsed_s` (less any stop); report each boundary crossed."""
        layout = self.layout
        walking_s = np.maximum(elapsed_s - self._pause_s, 0.0)
        self._pause_s = np.maximum(self._pause_s - elapsed_s, 0.0)
        old_line_m = layout.street_start_m[self._street] + self._position_m
        position_m = self._position_m + self._direction * self._speed_mps * walking_s
        turner, turn = self._turns(position_m)
        position_m[turner] = turn.position_m[turner] - self._direction[turner] * _END_MARGIN_M
        slot = layout.slot_at(self._street, position_m)
        crossed = np.abs(slot - self._slot)
        who = np.repeat(np.arange(len(self.ids)), crossed)
        nth = np.arange(len(who)) - np.repeat(np.cumsum(crossed) - crossed, crossed)
        direction = self._direction[who]
        entered = self._slot[who] + direction * (nth + 1)
        boundary_m = np.where(
            direction > 0, layout.slot_start_m[entered], layout.slot_end_m[entered]
        )
        # Time walked to the boundary, after the stop that ended at the start of the walk.
        start_s = now_s - walking_s[who]
        time_s = start_s + np.abs(boundary_m - old_line_m[who]) / self._speed_mps[who]
        entries = Entries(self.ids[who], layout.segment_of_slot[entered], direction, time_s)
        self._position_m = position_m
        self._slot = slot
        turned = self._turn(turner, turn, now_s - walking_s + turn.walk_s)
        self._stop(np.unique(np.concatenate([who, turned.walker_index])))
        length_m = layout.street_length_m[self._street]
        stays = np.where(self._direction > 0, self._position_m < length_m, self._position_m > 0.0)
        self._keep(stays)
        return _concat(entries, turned.entries)

    def _turns(self, position_m: FloatArray) -> "tuple[IntArray, Turn]":
        """Walkers that reach a junction this step and take it (the first one on their way)."""
        size = len(self.ids)
        turn = Turn.none(size)
        j = self._junctions
        if len(j.street) == 0 or self._behaviour.turn_probability <= 0 or size == 0:
            return np.zeros(0, dtype=np.int64), turn
        ahead = (j.position_m[None, :] - self._position_m[:, None]) * self._direction[:, None]
        reach = (position_m[:, None] - j.position_m[None, :]) * self._direction[:, None]
        passes = (j.street[None, :] == self._street[:, None]) & (ahead > 0) & (reach >= 0)
        distance = np.where(passes, ahead, np.inf)
        first = np.argmin(distance, axis=1)
        has = np.isfinite(distance[np.arange(size), first])
        takes = has & (self._rng.random(size) < self._behaviour.turn_probability)
        turner = np.flatnonzero(takes)
        pick = first[turner]
        turn.position_m[turner] = j.position_m[pick]
        turn.other[turner] = j.other[pick]
        turn.other_position_m[turner] = j.other_position_m[pick]
        turn.walk_s[turner] = distance[turner, pick] / self._speed_mps[turner]
        return turner, turn

    def _turn(self, turner: IntArray, turn: Turn, time_s: FloatArray) -> "Turned":
        """Move the turners onto their new street, heading away from the junction."""
        if len(turner) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Turned(empty, Entries(empty, empty, empty, np.zeros(0)))
        street = turn.other[turner]
        position_m = turn.other_position_m[turner]
        length_m = self.layout.street_length_m[street]
        direction = np.where(self._rng.random(len(turner)) < 0.5, 1, -1).astype(np.int64)
        direction = np.where(position_m <= 0.0, 1, np.where(position_m >= length_m, -1, direction))
        self._street[turner] = street
        self._position_m[turner] = np.clip(position_m, 0.0, length_m)
        self._direction[turner] = direction
        self._slot[turner] = self.layout.slot_at(street, self._position_m[turner])
        segment = self.layout.segment_of_slot[self._slot[turner]]
        entries = Entries(self.ids[turner], segment, direction, time_s[turner])
        return Turned(turner, entries)

    def _stop(self, entered: IntArray) -> None:
        """Some walkers stop for a while on a segment they just entered (a shop, a phone)."""
        chance = self._behaviour.stop_probability
        if chance <= 0 or len(entered) == 0:
            return
        stopping = entered[self._rng.random(len(entered)) < chance]
        low, high = self._behaviour.stop_range_s
        self._pause_s[stopping] += self._rng.uniform(low, high, len(stopping))

    def _keep(self, mask: BoolArray) -> None:
        self.ids = self.ids[mask]
        self._street = self._street[mask]
        self._position_m = self._position_m[mask]
        self._direction = self._direction[mask]
        self._speed_mps = self._speed_mps[mask]
        self._slot = self._slot[mask]
        self._pause_s = self._pause_s[mask]


@dataclass(frozen=True, eq=False)
class Turned:
    walker_index: IntArray
    entries: Entries


def _concat(first: Entries, second: Entries) -> Entries:
    return Entries(
        np.concatenate([first.walker, second.walker]),
        np.concatenate([first.segment, second.segment]),
        np.concatenate([first.direction, second.direction]),
        np.concatenate([first.time_s, second.time_s]),
    )


def _sorted(entries: Entries) -> Entries:
    """In time order, so counters publish in the order walkers passed them."""
    order = np.argsort(entries.time_s, kind="stable")
    return Entries(
        entries.walker[order],
        entries.segment[order],
        entries.direction[order],
        entries.time_s[order],
    )
