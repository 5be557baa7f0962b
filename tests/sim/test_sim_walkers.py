"""Walkers: deterministic, one entry per segment crossed, gone at the street's end."""

from collections import defaultdict
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings import SiteConfig
from controllers.topology import Topology, topology_from_site
from sim.world.walkers import Entries, Walkers, street_layout

PARIS = ZoneInfo("Europe/Paris")
FLAT_30_PER_H = [30.0] * 24


def _walkers(topology: Topology, seed: int, rate_per_h: list[float] = FLAT_30_PER_H) -> Walkers:
    return Walkers(topology, PARIS, np.random.default_rng(seed), rate_per_h)


def _run(walkers: Walkers, start_s: float, steps: int, dt_s: float) -> list[Entries]:
    return [walkers.step(start_s + (i + 1) * dt_s, dt_s) for i in range(steps)]


def _by_walker(entries: list[Entries]) -> dict[int, list[tuple[float, int, int]]]:
    found: dict[int, list[tuple[float, int, int]]] = defaultdict(list)
    for batch in entries:
        for w, s, d, t in zip(
            batch.walker, batch.segment, batch.direction, batch.time_s, strict=True
        ):
            found[int(w)].append((float(t), int(s), int(d)))
    return found


def test_layout_follows_street_order(tiny_topology: Topology) -> None:
    """Segments are laid street by street in `order`, whatever their order in the file."""
    layout = street_layout(tiny_topology)
    ids = [tiny_topology.ids[i] for i in layout.segment_of_slot]
    assert ids == ["a-1", "a-2", "a-3", "a-4", "b-1", "b-2"]
    assert layout.street_length_m.tolist() == [120.0, 100.0]


def test_same_seed_same_walkers(tiny_topology: Topology, midnight_s: float) -> None:
    """Two runs with one seed and the same steps produce identical entries."""
    first = _run(_walkers(tiny_topology, 7), midnight_s, 200, 7.0)
    second = _run(_walkers(tiny_topology, 7), midnight_s, 200, 7.0)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.walker, b.walker)
        assert np.array_equal(a.segment, b.segment)
        assert np.array_equal(a.time_s, b.time_s)
    other = _run(_walkers(tiny_topology, 8), midnight_s, 200, 7.0)
    times = np.concatenate([e.time_s for e in first])
    other_times = np.concatenate([e.time_s for e in other])
    assert len(times) > 0
    assert times.shape != other_times.shape or not np.array_equal(times, other_times)


def test_every_segment_crossed_gives_one_entry(tiny_topology: Topology, midnight_s: float) -> None:
    """Even with steps spanning several segments, a walker enters each segment of its street
    exactly once, in street order, at increasing times."""
    walkers = _walkers(tiny_topology, 3)
    entries = _run(walkers, midnight_s, 400, 50.0)  # 50 s at ≥ 1.2 m/s: up to 80 m per step
    index = tiny_topology.index_of
    chains = {0: [index(f"a-{n}") for n in (1, 2, 3, 4)], 1: [index("b-1"), index("b-2")]}
    gone = set(range(walkers.total)) - set(walkers.ids.tolist())
    assert len(gone) > 20
    for walker, visits in _by_walker(entries).items():
        segments = [s for _, s, _ in visits]
        times = [t for t, _, _ in visits]
        chain = chains[int(tiny_topology.street_of[segments[0]])]
        expected = chain if visits[0][2] > 0 else chain[::-1]
        if walker in gone:
            assert segments == expected
        else:
            assert segments == expected[: len(segments)]
        assert times == sorted(times)


def test_walker_leaves_at_street_end(tiny_topology: Topology, midnight_s: float) -> None:
    """Walkers present now are gone once the longest street was walked at the slowest speed,
    and each one's last entry was the far end of its street."""
    walkers = _walkers(tiny_topology, 5, [200.0] * 24)
    first = walkers.step(midnight_s + 10, 10.0)
    present = set(walkers.ids.tolist())
    assert present
    later = _run(walkers, midnight_s + 10, 12, 10.0)  # 120 s ≥ 120 m / 1.2 m/s
    assert present.isdisjoint(walkers.ids.tolist())
    visits = _by_walker([first, *later])
    index = tiny_topology.index_of
    far_end = {(0, +1): "a-4", (0, -1): "a-1", (1, +1): "b-2", (1, -1): "b-1"}
    for walker in present:
        _, start, direction = visits[walker][0]
        street = int(tiny_topology.street_of[start])
        assert visits[walker][-1][1] == index(far_end[(street, direction)])


def test_arrivals_follow_the_rate(tiny_topology: Topology, midnight_s: float) -> None:
    """At 30 walkers per hour per street, two streets see about 60 walkers an hour."""
    walkers = _walkers(tiny_topology, 11)
    _run(walkers, midnight_s, 10 * 360, 10.0)  # ten hours
    assert 540 <= walkers.total <= 660


def test_rate_profile_is_interpolated_by_local_hour(
    tiny_topology: Topology, midnight_s: float
) -> None:
    """Half past midnight lies halfway between the 00h and 01h values."""
    profile = [0.0] * 24
    profile[1] = 10.0
    walkers = _walkers(tiny_topology, 1, profile)
    assert walkers.rates.at(midnight_s + 1800)[0] == 5.0
    assert walkers.rates.at(midnight_s + 3 * 3600)[0] == 0.0


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    steps_s=st.lists(st.floats(0.0, 400.0), min_size=1, max_size=30),
)
def test_steps_never_leave_the_map(seed: int, steps_s: list[float]) -> None:
    """Whatever the seed and the step lengths, entries and positions are valid segments,
    directions are ±1, and entry times fall inside their step."""
    topology = _tiny_topology()
    walkers = Walkers(topology, PARIS, np.random.default_rng(seed), [500.0] * 24)
    now_s = 1_736_982_000.0
    for dt_s in steps_s:
        now_s += dt_s
        entries = walkers.step(now_s, dt_s)
        assert np.all((entries.segment >= 0) & (entries.segment < topology.size))
        assert np.all(np.abs(entries.direction) == 1)
        assert np.all((entries.time_s >= now_s - dt_s - 1e-6) & (entries.time_s <= now_s + 1e-6))
        segments = walkers.segments
        assert np.all((segments >= 0) & (segments < topology.size))
        assert walkers.per_segment(topology.size).sum() == len(walkers.ids)


def _tiny_topology() -> Topology:
    # Hypothesis does not mix with function-scoped fixtures: one five-segment street here.
    seg = {"street": "s", "length_m": 25.0, "rated_power_w": 10}
    site = SiteConfig.model_validate(
        {
            "site": {"id": "h", "latitude": 47.0, "longitude": 0.0, "timezone": "Europe/Paris"},
            "segments": [{"id": f"s-{i}", "order": i, **seg} for i in range(5)],
        }
    )
    return topology_from_site(site)
