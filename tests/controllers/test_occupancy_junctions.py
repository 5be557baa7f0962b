"""Properties of zone occupancy across a junction: whatever the counters' places and the walks,
nobody inside a zone is under-lit while the slowest walker could still be crossing it.

A main street of eight 30 m segments and a side street of four whose first segment meets a
middle segment of the main one (a T-junction, as in a city centre). Walkers arrive at any
street end, the side street's junction end included (people come out of buildings, cross the
road: a counter there cannot tell them from walkers coming off the main street); they walk
at any speed up to the policy's fastest walker, stop, turn at the junction, turn back in the
middle of a segment (once), stop (once, up to 40 s), and leave at any street end or go
indoors. Counters see each walker entering their
segment, and which way; a walker who turns back inside a counter's own segment is not seen
again, so walks here turn back only between counters. Presence is off (no hold, no
look-ahead), so what lights a walker in a zone is occupancy alone.
"""

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.engine import Engine
from controllers.schedule import AstronomicalClock
from controllers.settings import SiteConfig
from controllers.topology import Topology, topology_from_site
from tests.controllers.test_occupancy_properties import FASTEST_MPS, LENGTH_M, NIGHT, POLICY

MAIN, SIDE = 8, 4
SLOWEST_MPS = POLICY.presence.slowest_walker_mps
CLOCK = AstronomicalClock(47.47, -0.55, "Europe/Paris")


def site_with(junction: int, counters: list[str]) -> SiteConfig:
    """The two streets, the side street's s-0 joined to m-`junction`, counters on `counters`."""
    common = {"length_m": LENGTH_M, "rated_power_w": 36, "lighting_class": "P4"}
    main = [{"id": f"m-{n}", "street": "m", "order": n, **common} for n in range(MAIN)]
    side = [{"id": f"s-{n}", "street": "s", "order": n, **common} for n in range(SIDE)]
    return SiteConfig.model_validate(
        {
            "site": {"id": "p", "latitude": 47.47, "longitude": -0.55, "timezone": "Europe/Paris"},
            "segments": main + side,
            "junctions": {"x": [f"m-{junction}", "s-0"]},
            "devices": {f"c-{name}": {"kind": "pedestrian", "segment": name} for name in counters},
        }
    )


@dataclass(frozen=True)
class Leg:
    """The walker entered `state`'s segment at `entered_s` heading its way (a turn back
    changes the state without an entry: `entry` is False)."""

    entered_s: float
    state: int
    entry: bool


@st.composite
def walk(draw: st.DrawFn, topology: Topology, counter: np.ndarray) -> list[Leg]:
    """One walker's legs, the last one a sentinel state -1: off the streets."""
    size, graph = topology.size, topology.graph
    arrivals = [2 * int(np.flatnonzero(topology.prev_index == size)[k]) for k in range(2)]
    arrivals += [2 * int(np.flatnonzero(topology.next_index == size)[k]) + 1 for k in range(2)]
    state = draw(st.sampled_from(arrivals))
    speed_mps = draw(st.floats(min_value=0.8, max_value=FASTEST_MPS))
    time_s = draw(st.floats(min_value=0, max_value=200))
    legs = [Leg(time_s, state, True)]
    turns_back = stops = 1  # at most one of each: the walk keeps the slowest walker's pace
    for _ in range(draw(st.integers(min_value=1, max_value=14))):
        segment = state // 2
        if not counter[segment] and turns_back and draw(st.integers(0, 3)) == 0:
            turns_back -= 1
            into_m = draw(st.floats(min_value=0, max_value=LENGTH_M))
            time_s += 2 * into_m / speed_mps  # in and back out the way it came
            state ^= 1
            legs.append(Leg(time_s, state, False))
        else:
            stop_s = draw(st.sampled_from([0.0, 0.0, 15.0, 40.0])) if stops else 0.0
            stops -= stop_s > 0
            time_s += LENGTH_M / speed_mps + stop_s
        nexts = graph.successor[graph.ptr[state] : graph.ptr[state + 1]].tolist()
        heading_out = (topology.next_index if state % 2 == 0 else topology.prev_index)[
            segment
        ] == size
        choices = nexts + [-1] * bool(heading_out)  # a street end: the walker may leave
        if not choices:
            break
        state = draw(st.sampled_from(choices))
        legs.append(Leg(time_s, state, state >= 0))
        if state < 0:
            break
    if legs[-1].state >= 0:  # gone indoors, uncounted: a missed exit
        legs.append(Leg(time_s + LENGTH_M / speed_mps, -1, False))
    return legs


@st.composite
def nights(draw: st.DrawFn) -> tuple[Topology, list[list[Leg]]]:
    """A junction place, counters (the street ends always), and up to six walkers."""
    junction = draw(st.integers(min_value=2, max_value=MAIN - 3))
    optional = [f"m-{n}" for n in range(1, MAIN - 1)] + [f"s-{n}" for n in range(SIDE - 1)]
    chosen = draw(st.lists(st.sampled_from(optional), max_size=5, unique=True))
    topology = topology_from_site(site_with(junction, ["m-0", f"m-{MAIN - 1}", "s-3", *chosen]))
    counter = np.zeros(topology.size, dtype=np.bool_)
    counter[topology.counters] = True
    walkers = draw(st.lists(walk(topology, counter), min_size=1, max_size=6))
    return topology, walkers


def leg_at(legs: list[Leg], time_s: float) -> int:
    """The index of the leg the walker is on at `time_s` (-1: not arrived yet)."""
    here = -1
    for k, leg in enumerate(legs):
        if leg.entered_s <= time_s:
            here = k
    return here


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nights())
def test_no_walker_inside_a_zone_is_under_lit_across_a_junction(
    night: tuple[Topology, list[list[Leg]]],
) -> None:
    """At every second, a walker last counted into a closed zone is at least at the occupied
    level while within the slowest walker's crossing of its gap; counts never go negative."""
    topology, walkers = night
    engine = Engine(topology, POLICY, CLOCK)
    occupancy = engine.occupancy
    assert occupancy is not None
    zones = occupancy.zones
    counter = np.zeros(topology.size, dtype=np.bool_)
    counter[topology.counters] = True
    detections = sorted(
        (leg.entered_s, leg.state, w)
        for w, legs in enumerate(walkers)
        for leg in legs
        if leg.entry and counter[leg.state // 2]
    )
    last: dict[int, tuple[float, int]] = {}  # walker -> (time, state) of its last detection
    k = 0
    for second in range(int(max(legs[-1].entered_s for legs in walkers)) + 1):
        while k < len(detections) and detections[k][0] <= second:
            time_s, state, w = detections[k]
            direction = np.array([1 if state % 2 == 0 else -1])
            engine.detect(np.array([state // 2]), direction, NIGHT + time_s)
            last[w] = (time_s, state)
            k += 1
        step = engine.step(NIGHT + second)
        assert (occupancy.walkers() >= 0).all()
        for w, legs in enumerate(walkers):
            here = leg_at(legs, second)
            if here < 0 or legs[here].state < 0 or w not in last:
                continue
            seen_s, state = last[w]
            gap = int(np.flatnonzero(zones.gap_state == state)[0])
            crossing_s = float(zones.gap_length_m[gap]) / SLOWEST_MPS
            if occupancy.enters(state) and second - seen_s <= crossing_s:
                segment = legs[here].state // 2
                assert step.level[segment] >= step.occupied_level[segment] - 1e-6, (
                    second,
                    w,
                    topology.ids[segment],
                )


def engine_on(junction: int, counters: list[str]) -> tuple[Engine, Topology]:
    topology = topology_from_site(site_with(junction, counters))
    return Engine(topology, POLICY, CLOCK), topology


def detect(engine: Engine, topology: Topology, name: str, direction: int, at_s: float) -> None:
    engine.detect(np.array([topology.index_of(name)]), np.array([direction]), NIGHT + at_s)


def test_a_newcomer_at_a_junction_street_end_counts_nobody_out() -> None:
    """A walker entering the side street at its junction end (s-0 forward) may come from
    outside: the walker counted into the main street's zone stays lit."""
    engine, topology = engine_on(3, ["m-0", "m-7", "m-3", "s-0", "s-3"])
    detect(engine, topology, "m-0", 1, 0)
    detect(engine, topology, "s-0", 1, 5)  # someone else, out of a doorway
    m1 = topology.index_of("m-1")
    step = engine.step(NIGHT + 30)
    assert step.level[m1] == step.occupied_level[m1]


def test_a_late_walker_takes_their_own_expired_entry() -> None:
    """A walker who stopped past the slowest walker's crossing and is counted out late takes
    the expired entry, not the entry of the walker who came in after them."""
    engine, topology = engine_on(3, ["m-0", "m-7", "m-3", "s-0", "s-3"])
    crossing_s = 3 * LENGTH_M / SLOWEST_MPS  # m-0 to m-3
    detect(engine, topology, "m-0", 1, 0)  # stops on the way
    detect(engine, topology, "m-0", 1, crossing_s - 10)  # the next walker
    engine.step(NIGHT + crossing_s + 1)  # the first one's entry runs out
    detect(engine, topology, "m-3", 1, crossing_s + 20)  # the first one, at last
    m1 = topology.index_of("m-1")
    step = engine.step(NIGHT + crossing_s + 21)
    assert step.level[m1] == step.occupied_level[m1]


def test_an_exit_that_may_end_two_walks_counts_out_neither() -> None:
    """m-3 carries the junction: entering it forward ends a walk from m-0 or from s-0; with
    walkers in both zones, neither is counted out, and both stay lit."""
    engine, topology = engine_on(3, ["m-0", "m-7", "m-3", "s-0", "s-3"])
    detect(engine, topology, "m-0", 1, 0)
    detect(engine, topology, "s-0", -1, 0)  # heading for the junction
    detect(engine, topology, "m-3", 1, 40)
    step = engine.step(NIGHT + 41)
    for name in ("m-1", "s-0"):
        segment = topology.index_of(name)
        assert step.level[segment] == step.occupied_level[segment], name
