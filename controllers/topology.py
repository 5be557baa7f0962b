"""Lamp segments as arrays: index by position, streets as chains, junctions joining them.

Every per-segment array in the engine uses the site file's segment order. Neighbour relations
are arrays too: `next_index`/`prev_index` along each street, junctions as CSR lists of their
segments, and from both the successor graph that look-ahead walks (controllers.graph).
"""

import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from controllers.classes import AVERAGE_LUX, QUIETEST, class_index, class_level
from controllers.graph import StateGraph, ahead, build_graph, nearest_source
from controllers.settings.site import Segment, SiteConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def _no_ints() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _no_junctions() -> IntArray:
    return np.zeros(1, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Topology:
    """Segments in a fixed order; every per-segment array in the engine uses this order.

    `next_index[i]` is the segment after i along its street (increasing `order`), `prev_index[i]`
    the one before; the sentinel `size` means "none", so that walking past the end of a street
    stays at the sentinel without a branch. Junction j joins the segments
    `junction_members[junction_ptr[j]:junction_ptr[j + 1]]`. Sensor k (of `sensor_ids`) is on
    segment `sensor_segment[k]`; `counters` are the segments with a pedestrian counter.
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
    junction_ids: tuple[str, ...] = ()
    junction_ptr: IntArray = field(default_factory=_no_junctions)
    junction_members: IntArray = field(default_factory=_no_ints)
    sensor_ids: tuple[str, ...] = ()
    sensor_kinds: tuple[str, ...] = ()
    sensor_segment: IntArray = field(default_factory=_no_ints)
    counters: IntArray = field(default_factory=_no_ints)

    @property
    def size(self) -> int:
        return len(self.ids)

    def index_of(self, segment_id: str) -> int:
        """Position of a segment id; KeyError names the unknown id."""
        return self.positions[segment_id]

    # Built once, on first use (cached_property writes the instance dict, frozen or not).
    @cached_property
    def positions(self) -> dict[str, int]:
        """Segment id → position."""
        return {sid: i for i, sid in enumerate(self.ids)}

    @cached_property
    def graph(self) -> StateGraph:
        """Successor states for look-ahead."""
        return build_graph(
            self.next_index, self.prev_index, self.junction_ptr, self.junction_members
        )

    @cached_property
    def flow_source(self) -> IntArray:
        """For every segment, the nearest segment with a counter on its street (-1: none):
        the flow a segment sees is the flow its nearest counter measures."""
        source, _ = nearest_source(self.counters, self.next_index, self.prev_index)
        return source

    @cached_property
    def rated_level(self) -> FloatArray:
        """The level at which each segment meets its rated class: what an occupied segment
        requires (controllers.classes.class_level with its photometry)."""
        return class_level(self.lux_at_full_lx, self.rated_class)

    @cached_property
    def lowest_class_level(self) -> FloatArray:
        """The level at which each segment meets P6, the lowest class: a lit street's floor."""
        return class_level(self.lux_at_full_lx, np.full(self.size, QUIETEST, dtype=np.int64))

    def ahead(
        self, start: IntArray, direction: IntArray, steps: int | IntArray
    ) -> tuple[IntArray, IntArray]:
        """(segments, origin): up to `steps` segments ahead of each start, following streets
        and junctions; `origin[k]` is the position in `start` that segment k is ahead of.

        direction +1 walks forward, -1 backward, 0 both ways (a counter that does not know
        which way the walker goes lights both sides). Street ends without a junction stop it.
        """
        segments, origin, _ = self.ahead_with_distance(start, direction, steps)
        return segments, origin

    def ahead_with_distance(
        self, start: IntArray, direction: IntArray, steps: int | IntArray
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """`ahead`, with how far a walker entering each start walks before entering each
        segment ahead (metres, the shortest way)."""
        reach = np.broadcast_to(np.asarray(steps, dtype=np.int64), start.shape)
        return ahead(self.graph, start, direction, reach, self.length_m)

    def walk(self, start: IntArray, direction: IntArray, steps: int | IntArray) -> IntArray:
        """Indices of `start` and of the segments `ahead` of them, flattened."""
        segments, _ = self.ahead(start, direction, steps)
        return np.concatenate([start, segments]).astype(np.int64)


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
    position = {s.id: i for i, s in enumerate(segments)}
    members = [[position[m] for m in joined] for joined in site.junctions.values()]
    devices = list(site.devices.items())
    sensor_segment = np.array([position[d.segment] for _, d in devices], dtype=np.int64)
    counted = [position[d.segment] for _, d in devices if d.kind == "pedestrian"]
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
        junction_ids=tuple(site.junctions),
        junction_ptr=np.cumsum([0, *map(len, members)]).astype(np.int64),
        junction_members=np.array([m for joined in members for m in joined], dtype=np.int64),
        sensor_ids=tuple(d for d, _ in devices),
        sensor_kinds=tuple(d.kind for _, d in devices),
        sensor_segment=sensor_segment,
        counters=np.unique(np.array(counted, dtype=np.int64)),
    )


def _lux_at_full(segment: Segment) -> float:
    """The photometry given in the site file, else exactly the rated class at 100 %."""
    if segment.lux_at_full_lx is not None:
        return segment.lux_at_full_lx
    return AVERAGE_LUX[class_index(segment.lighting_class)]
