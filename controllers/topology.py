"""Lamp segments as arrays: index by position, neighbours along each street as index arrays."""

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controllers.classes import AVERAGE_LUX, class_index
from controllers.settings.site import Segment, SiteConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Topology:
    """Segments in a fixed order; every per-segment array in the engine uses this order.

    `next_index[i]` is the segment after i along its street (increasing `order`), `prev_index[i]`
    the one before; the sentinel `size` means "none", so that walking past the end of a street
    stays at the sentinel without a branch.
    """

    ids: tuple[str, ...]
    streets: tuple[str, ...]
    street_of: IntArray
    length_m: FloatArray
    rated_power_w: FloatArray
    standby_power_w: FloatArray
    lux_at_full_lx: FloatArray
    rated_class: IntArray
    next_index: IntArray
    prev_index: IntArray

    @property
    def size(self) -> int:
        return len(self.ids)

    def index_of(self, segment_id: str) -> int:
        """Position of a segment id; KeyError names the unknown id."""
        return self._positions()[segment_id]

    def _positions(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_position_cache")
        if cached is None:
            cached = {sid: i for i, sid in enumerate(self.ids)}
            object.__setattr__(self, "_position_cache", cached)
        return cached

    def walk(self, start: IntArray, direction: IntArray, steps: int) -> IntArray:
        """Indices of `start` and up to `steps` segments ahead of each start, flattened.

        direction +1 walks forward, -1 backward, 0 both ways (a counter that does not know
        which way the walker goes lights both sides). Street ends are dropped.
        """
        size = self.size
        forward_map = np.append(self.next_index, size)
        backward_map = np.append(self.prev_index, size)
        ahead = np.where(direction >= 0, start, size)
        behind = np.where(direction <= 0, start, size)
        found = [start]
        for _ in range(steps):
            ahead = forward_map[ahead]
            behind = backward_map[behind]
            found += [ahead, behind]
        flat = np.concatenate(found)
        return flat[flat < size]


def topology_from_site(site: SiteConfig) -> Topology:
    """Arrays in the site file's segment order, chains built per street by `order`."""
    segments = site.segments
    size = len(segments)
    streets = tuple(dict.fromkeys(s.street for s in segments))
    street_code = {name: code for code, name in enumerate(streets)}
    next_index = np.full(size, size, dtype=np.int64)
    prev_index = np.full(size, size, dtype=np.int64)
    for street in streets:
        chain = sorted((s.order, i) for i, s in enumerate(segments) if s.street == street)
        for (_, here), (_, after) in itertools.pairwise(chain):
            next_index[here] = after
            prev_index[after] = here
    return Topology(
        ids=tuple(s.id for s in segments),
        streets=streets,
        street_of=np.array([street_code[s.street] for s in segments], dtype=np.int64),
        length_m=np.array([s.length_m for s in segments], dtype=np.float64),
        rated_power_w=np.array([s.rated_power_w * s.lamps for s in segments], dtype=np.float64),
        standby_power_w=np.array([s.standby_power_w * s.lamps for s in segments]),
        lux_at_full_lx=np.array([_lux_at_full(s) for s in segments], dtype=np.float64),
        rated_class=np.array([class_index(s.lighting_class) for s in segments], dtype=np.int64),
        next_index=next_index,
        prev_index=prev_index,
    )


def _lux_at_full(segment: Segment) -> float:
    """The photometry given in the site file, else exactly the rated class at 100 %."""
    if segment.lux_at_full_lx is not None:
        return segment.lux_at_full_lx
    return AVERAGE_LUX[class_index(segment.lighting_class)]
