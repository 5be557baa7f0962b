"""Pedestrians walking the district's streets, all of them as numpy arrays.

Each street is the chain of its segments by `order`. Walkers arrive at either end of a street
(Poisson arrivals, rate from an hourly profile of the site's local time), walk to the other end
at their own speed and leave. `step` returns every segment entry that happened during the
step, with its exact time, so a fast simulation (one step can cross several segments) still
triggers every pedestrian counter it passes.

All streets are laid end to end on one line (`StreetLayout`), so finding the segment under
every walker is one `searchsorted`, whatever the number of streets.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from controllers.topology import BoolArray, FloatArray, IntArray, Topology

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
    """Active walkers as parallel arrays; ids count up from 0 and are never reused."""

    def __init__(
        self,
        topology: Topology,
        zone: ZoneInfo,
        rng: np.random.Generator,
        rate_per_h: Sequence[float] = DEFAULT_RATE_PER_H,
        speed_range_mps: tuple[float, float] = (1.2, 1.6),
    ) -> None:
        if len(rate_per_h) != 24:
            raise ValueError(f"rate_per_h needs 24 hourly values (got {len(rate_per_h)})")
        self.layout = street_layout(topology)
        self._zone = zone
        self._rng = rng
        self._rate_per_h = np.asarray(rate_per_h, dtype=np.float64)
        self._speed_range_mps = speed_range_mps
        self.total = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self._street = np.zeros(0, dtype=np.int64)
        self._position_m = np.zeros(0)
        self._direction = np.zeros(0, dtype=np.int64)
        self._speed_mps = np.zeros(0)
        self._slot = np.zeros(0, dtype=np.int64)

    @property
    def segments(self) -> IntArray:
        """Topology index of the segment under each active walker (same order as `ids`)."""
        return self.layout.segment_of_slot[self._slot]

    def per_segment(self, size: int) -> IntArray:
        """Active walkers on each of the `size` segments."""
        return np.bincount(self.segments, minlength=size).astype(np.int64)

    def rate_per_h(self, now_s: float) -> float:
        """Arrivals per hour per street at `now_s`, interpolated on the local hour of day."""
        local = datetime.fromtimestamp(now_s, self._zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        hours = np.arange(25, dtype=np.float64)
        return float(np.interp(hour, hours, np.append(self._rate_per_h, self._rate_per_h[0])))

    def step(self, now_s: float, dt_s: float) -> Entries:
        """Advance from `now_s - dt_s` to `now_s`: arrivals, walking, departures."""
        elapsed_s = np.full(len(self.ids), max(dt_s, 0.0))
        arrivals = self._arrive(now_s, dt_s)
        elapsed_s = np.concatenate([elapsed_s, now_s - arrivals.time_s])
        moved = self._move(now_s, elapsed_s)
        return _sorted(_concat(arrivals, moved))

    def _arrive(self, now_s: float, dt_s: float) -> Entries:
        """New walkers at both ends of every street; each one enters its first segment."""
        streets = self.layout.streets
        expected = self.rate_per_h(now_s) / 2 * max(dt_s, 0.0) / 3600  # per street end
        counts = self._rng.poisson(expected, size=2 * streets)
        count = int(counts.sum())
        street = np.repeat(np.repeat(np.arange(streets, dtype=np.int64), 2), counts)
        direction = np.repeat(np.tile(np.array([1, -1], dtype=np.int64), streets), counts)
        low, high = self._speed_range_mps
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
        return Entries(ids, self.layout.segment_of_slot[slot], direction, time_s)

    def _move(self, now_s: float, elapsed_s: FloatArray) -> Entries:
        """Walk every walker for its `elapsed_s`; report each segment boundary crossed."""
        layout = self.layout
        old_line_m = layout.street_start_m[self._street] + self._position_m
        position_m = self._position_m + self._direction * self._speed_mps * elapsed_s
        slot = layout.slot_at(self._street, position_m)
        crossed = np.abs(slot - self._slot)
        who = np.repeat(np.arange(len(self.ids)), crossed)
        nth = np.arange(len(who)) - np.repeat(np.cumsum(crossed) - crossed, crossed)
        direction = self._direction[who]
        entered = self._slot[who] + direction * (nth + 1)
        boundary_m = np.where(
            direction > 0, layout.slot_start_m[entered], layout.slot_end_m[entered]
        )
        start_s = now_s - elapsed_s[who]
        time_s = start_s + np.abs(boundary_m - old_line_m[who]) / self._speed_mps[who]
        entries = Entries(self.ids[who], layout.segment_of_slot[entered], direction, time_s)
        length_m = layout.street_length_m[self._street]
        stays = np.where(self._direction > 0, position_m < length_m, position_m > 0.0)
        self._position_m = position_m
        self._slot = slot
        self._keep(stays)
        return entries

    def _keep(self, mask: BoolArray) -> None:
        self.ids = self.ids[mask]
        self._street = self._street[mask]
        self._position_m = self._position_m[mask]
        self._direction = self._direction[mask]
        self._speed_mps = self._speed_mps[mask]
        self._slot = self._slot[mask]


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
