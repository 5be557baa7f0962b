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
