"""Segments as arrays: neighbours follow `order` within a street and never cross streets."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.settings import SiteConfig
from controllers.topology import Topology, topology_from_site

# File order deliberately differs from street order: neighbours must follow `order`.
LAYOUT = [
    ("long", 30),
    ("short", 2),
    ("long", 10),
    ("long", 60),
    ("short", 1),
    ("long", 20),
    ("long", 50),
    ("short", 3),
    ("long", 40),
]


def make_topology() -> Topology:
    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.47, "longitude": -0.55},
            "segments": [
                {
                    "id": f"{street}-{order}",
                    "street": street,
                    "order": order,
                    "length_m": 30,
                    "lamps": 2,
                    "rated_power_w": 36,
                    "standby_power_w": 0.5,
                }
                for street, order in LAYOUT
            ],
        }
    )
    return topology_from_site(site)


TOPOLOGY = make_topology()


def ids(indices: np.ndarray) -> set[str]:
    return {TOPOLOGY.ids[i] for i in indices.tolist()}


def at(segment_id: str) -> np.ndarray:
    return np.array([TOPOLOGY.index_of(segment_id)])


def test_arrays_follow_the_file_order() -> None:
    """ids, streets and per-segment power keep the site file's order; power counts lamps."""
    assert TOPOLOGY.ids[:3] == ("long-30", "short-2", "long-10")
    assert TOPOLOGY.streets == ("long", "short")
    assert TOPOLOGY.size == len(LAYOUT)
    assert TOPOLOGY.street_of.tolist()[:3] == [0, 1, 0]
    assert TOPOLOGY.rated_power_w.tolist() == [72.0] * len(LAYOUT)
    assert TOPOLOGY.standby_power_w.tolist() == [1.0] * len(LAYOUT)


def test_neighbours_follow_order_within_each_street() -> None:
    """next/prev chain each street by increasing order, with the sentinel at both ends."""
    size = TOPOLOGY.size
    chain = ["long-10", "long-20", "long-30", "long-40", "long-50", "long-60"]
    for here, after in itertools.pairwise(chain):
        assert TOPOLOGY.next_index[TOPOLOGY.index_of(here)] == TOPOLOGY.index_of(after)
        assert TOPOLOGY.prev_index[TOPOLOGY.index_of(after)] == TOPOLOGY.index_of(here)
    assert TOPOLOGY.next_index[TOPOLOGY.index_of("long-60")] == size
    assert TOPOLOGY.prev_index[TOPOLOGY.index_of("long-10")] == size
    assert TOPOLOGY.next_index[TOPOLOGY.index_of("short-3")] == size


def test_walk_forward_backward_and_both() -> None:
    """+1 walks up the order, -1 down, 0 both ways, each `steps` segments."""
    start = at("long-30")
    assert ids(TOPOLOGY.walk(start, np.array([1]), 2)) == {"long-30", "long-40", "long-50"}
    assert ids(TOPOLOGY.walk(start, np.array([-1]), 2)) == {"long-30", "long-20", "long-10"}
    assert ids(TOPOLOGY.walk(start, np.array([0]), 1)) == {"long-20", "long-30", "long-40"}
    assert ids(TOPOLOGY.walk(start, np.array([1]), 0)) == {"long-30"}


def test_walk_stops_at_the_street_end() -> None:
    """Walking past the last segment of a street yields nothing more, not the next street."""
    assert ids(TOPOLOGY.walk(at("long-50"), np.array([1]), 5)) == {"long-50", "long-60"}
    assert ids(TOPOLOGY.walk(at("short-3"), np.array([1]), 5)) == {"short-3"}
    assert ids(TOPOLOGY.walk(at("short-1"), np.array([-1]), 5)) == {"short-1"}


def test_walk_handles_several_starts() -> None:
    """Several walkers at once give the union of their walks."""
    starts = np.array([TOPOLOGY.index_of("long-10"), TOPOLOGY.index_of("short-3")])
    found = ids(TOPOLOGY.walk(starts, np.array([1, -1]), 1))
    assert found == {"long-10", "long-20", "short-3", "short-2"}


def test_unknown_segment_id_raises_key_error() -> None:
    """index_of names the unknown id."""
    with pytest.raises(KeyError, match="nowhere"):
        TOPOLOGY.index_of("nowhere")


@given(
    st.integers(min_value=0, max_value=len(LAYOUT) - 1),
    st.sampled_from([-1, 0, 1]),
    st.integers(min_value=0, max_value=10),
)
def test_walk_stays_on_the_street_within_reach(start: int, direction: int, steps: int) -> None:
    """Every walked segment is on the start's street, at most `steps` places away that way."""
    found = TOPOLOGY.walk(np.array([start]), np.array([direction]), steps)
    street, order = LAYOUT[start]
    same_street = sorted(o for s, o in LAYOUT if s == street)
    rank = same_street.index(order)
    expected = set()
    for other_rank, other_order in enumerate(same_street):
        offset = other_rank - rank
        ahead = 0 <= offset <= steps if direction >= 0 else False
        behind = -steps <= offset <= 0 if direction <= 0 else False
        if ahead or behind:
            expected.add(f"{street}-{other_order}")
    assert ids(found) == expected


def test_photometry_defaults_to_the_rated_class_at_full_and_gives_class_levels() -> None:
    """A segment without photometry meets its class at 100 %; P6 then needs the lux ratio."""
    from controllers.classes import QUIETEST, class_level
    from controllers.settings import SiteConfig

    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 0, "longitude": 0},
            "segments": [
                {
                    "id": "a",
                    "street": "s",
                    "order": 1,
                    "length_m": 30,
                    "rated_power_w": 40,
                    "lighting_class": "P3",
                },
                {
                    "id": "b",
                    "street": "s",
                    "order": 2,
                    "length_m": 30,
                    "rated_power_w": 40,
                    "lighting_class": "P4",
                    "lux_at_full_lx": 20,
                },
            ],
        }
    )
    topology = topology_from_site(site)
    assert topology.lux_at_full_lx.tolist() == [7.5, 20.0]
    assert class_level(topology.lux_at_full_lx, topology.rated_class).tolist() == [1.0, 0.25]
    quietest = np.full(2, QUIETEST)
    assert class_level(topology.lux_at_full_lx, quietest).tolist() == [2 / 7.5, 0.1]


def junction_site(junctions: dict[str, list[str]]) -> Topology:
    """Main street m-1..m-5, side street s-1..s-3 and a dead end d-1..d-2."""
    layout = [("m", n) for n in range(1, 6)] + [("s", n) for n in range(1, 4)]
    layout += [("d", 1), ("d", 2)]
    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.47, "longitude": -0.55},
            "segments": [
                {"id": f"{s}-{n}", "street": s, "order": n, "length_m": 30, "rated_power_w": 36}
                for s, n in layout
            ],
            "junctions": junctions,
            "devices": {
                "c-m2": {"kind": "pedestrian", "segment": "m-2"},
                "c-m5": {"kind": "pedestrian", "segment": "m-5"},
                "bin-s1": {"kind": "bin", "segment": "s-1"},
            },
        }
    )
    return topology_from_site(site)


def names(topology: Topology, indices: np.ndarray) -> set[str]:
    return {topology.ids[i] for i in indices.tolist()}


def test_lookahead_crosses_a_junction_at_the_end_of_a_street() -> None:
    """Walking forward off the end of m, through a junction with s-1, continues up s."""
    topology = junction_site({"end": ["m-5", "s-1"]})
    start = np.array([topology.index_of("m-4")])
    found = topology.walk(start, np.array([1]), 3)
    assert names(topology, found) == {"m-4", "m-5", "s-1", "s-2"}
    back = topology.walk(np.array([topology.index_of("s-2")]), np.array([-1]), 3)
    assert names(topology, back) == {"s-2", "s-1", "m-5", "m-4"}


def test_a_side_street_in_the_middle_is_reached_from_both_ways() -> None:
    """A junction on a middle segment leads into the side street whichever way one walks."""
    topology = junction_site({"cross": ["m-3", "s-1"]})
    for start, direction in (("m-2", 1), ("m-4", -1)):
        found = topology.walk(np.array([topology.index_of(start)]), np.array([direction]), 2)
        assert {"m-3", "s-1"} <= names(topology, found)
    found = topology.walk(np.array([topology.index_of("s-2")]), np.array([-1]), 2)
    assert names(topology, found) == {"s-2", "s-1", "m-3"}
    found = topology.walk(np.array([topology.index_of("s-2")]), np.array([-1]), 3)
    assert names(topology, found) == {"s-2", "s-1", "m-3", "m-2", "m-4"}


def test_lookahead_does_not_turn_into_a_junction_behind_the_walker() -> None:
    """A walker heading away from a street-end junction does not light the other street."""
    topology = junction_site({"end": ["m-5", "s-1"]})
    found = topology.walk(np.array([topology.index_of("m-5")]), np.array([-1]), 3)
    assert names(topology, found) == {"m-5", "m-4", "m-3", "m-2"}
    found = topology.walk(np.array([topology.index_of("s-1")]), np.array([1]), 1)
    assert names(topology, found) == {"s-1", "s-2"}


def test_a_junction_of_three_streets_fans_out_to_each() -> None:
    """Three streets meeting: from one, the look-ahead enters both others."""
    topology = junction_site({"place": ["m-5", "s-1", "d-2"]})
    found = topology.walk(np.array([topology.index_of("m-5")]), np.array([1]), 2)
    assert names(topology, found) == {"m-5", "s-1", "s-2", "d-2", "d-1"}


def test_ahead_reports_the_origin_and_respects_per_start_steps() -> None:
    """`ahead` tells which start each segment is ahead of and stops each at its own reach."""
    topology = junction_site({})
    starts = np.array([topology.index_of("m-1"), topology.index_of("s-3")])
    segments, origin = topology.ahead(starts, np.array([1, -1]), np.array([2, 1]))
    pairs = {(topology.ids[s], int(o)) for s, o in zip(segments, origin, strict=True)}
    assert pairs == {("m-2", 0), ("m-3", 0), ("s-2", 1)}


def test_sensors_and_counters_map_to_segments() -> None:
    """Every device sits on its segment; only pedestrian devices are counters."""
    topology = junction_site({})
    assert topology.sensor_ids == ("c-m2", "c-m5", "bin-s1")
    assert names(topology, topology.sensor_segment) == {"m-2", "m-5", "s-1"}
    assert names(topology, topology.counters) == {"m-2", "m-5"}


def test_flow_source_is_the_nearest_counter_on_the_same_street() -> None:
    """Segments take the flow of their street's nearest counter; other streets have none."""
    topology = junction_site({"end": ["m-5", "s-1"]})
    source = {topology.ids[i]: s for i, s in enumerate(topology.flow_source.tolist())}
    m2, m5 = topology.index_of("m-2"), topology.index_of("m-5")
    assert [source[f"m-{n}"] for n in range(1, 6)] == [m2, m2, m2, m5, m5]
    assert source["s-1"] == source["d-1"] == -1


def test_junction_with_unknown_or_single_segment_is_refused() -> None:
    """A junction naming an unknown segment gets a did-you-mean; one segment alone is refused."""
    base = {
        "site": {"id": "t", "latitude": 0, "longitude": 0},
        "segments": [
            {"id": "main-1", "street": "m", "order": 1, "length_m": 30, "rated_power_w": 36},
            {"id": "side-1", "street": "s", "order": 1, "length_m": 30, "rated_power_w": 36},
        ],
    }
    site = SiteConfig.model_validate(
        {**base, "junctions": {"x": ["main-1", "sied-1"], "y": ["main-1"]}}
    )
    problems = dict(site.problems())
    assert "did you mean 'side-1'" in problems[("junctions", "x", 1)]
    assert "at least two" in problems[("junctions", "y")]


def test_rated_and_lowest_class_levels_follow_the_photometry() -> None:
    """A P4 segment (5 lx) with 10 lx at full requires 0.5 when occupied and 0.2 at P6."""
    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 0, "longitude": 0},
            "segments": [
                {
                    "id": "a",
                    "street": "s",
                    "order": 1,
                    "length_m": 30,
                    "rated_power_w": 40,
                    "lighting_class": "P4",
                    "lux_at_full_lx": 10,
                },
            ],
        }
    )
    topology = topology_from_site(site)
    assert topology.rated_level.tolist() == [0.5]
    assert topology.lowest_class_level.tolist() == [0.2]
