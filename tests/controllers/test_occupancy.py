"""Zones between counters, the occupancy layer in the engine, and learnt walking speeds."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from controllers.engine import Engine, Reason
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.settings.loader import load_model
from controllers.speeds import SpeedRules, Speeds
from controllers.topology import topology_from_site
from controllers.zones import build_zones

SITE_FILE = Path(__file__).parents[1] / "policies" / "site.yaml"
SITE = load_model(SiteConfig, SITE_FILE.read_text(), str(SITE_FILE))
TOPOLOGY = topology_from_site(SITE)
NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
CLOCK = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")


def at(*names: str) -> np.ndarray:
    return np.array([TOPOLOGY.index_of(n) for n in names], dtype=np.int64)


def engine_with(stale_after_s: float | None = None, **presence: object) -> Engine:
    policy = Policy.model_validate(
        {
            "schedule": {"night_level": "P5"},
            "presence": {"hold_s": 0, "lookahead_segments": 0, "occupancy": True, **presence},
            "failsafe": {"stale_after_s": stale_after_s},
        }
    )
    engine = Engine(TOPOLOGY, policy, CLOCK)
    engine.register_sensors(at("a-2", "a-5"), NIGHT)
    return engine


def test_the_zone_between_two_counters_is_closed_and_the_ends_are_open() -> None:
    """a-2..a-5 is one closed zone (both ways); beyond a-2 and a-5 the streets end uncounted."""
    zones = build_zones(TOPOLOGY, TOPOLOGY.counters)
    a2, a5 = (int(i) for i in at("a-2", "a-5"))
    inside = zones.entered[2 * a2]  # counted forward at a-2
    assert inside >= 0 and zones.entered[2 * a5 + 1] == inside  # backward at a-5: the same
    assert zones.left[2 * a5] == inside and zones.left[2 * a2 + 1] == inside
    assert zones.entered[2 * a2 + 1] == -1 and zones.entered[2 * a5] == -1  # open


def test_a_walker_in_the_zone_is_lit_with_the_occupancy_reason() -> None:
    """Counted in at a-2: the zone's segments are at the rated class, reason occupancy."""
    engine = engine_with()
    engine.detect(at("a-2"), np.array([1]), NIGHT + 10)
    step = engine.step(NIGHT + 60)
    zone = at("a-2", "a-3", "a-4", "a-5")
    assert (step.level[zone] == step.occupied_level[zone]).all()
    assert (step.reason[zone] == Reason.OCCUPANCY).all()
    assert step.reason[TOPOLOGY.index_of("a-1")] == Reason.SCHEDULE


def test_a_stale_counter_hands_its_zone_to_the_failsafe() -> None:
    """When a-5 falls silent, its zone goes to the fail-safe level and forgets its walkers."""
    engine = engine_with(600, slowest_walker_mps=0.05)
    engine.detect(at("a-2"), np.array([1]), NIGHT + 10)
    engine.seen(at("a-2"), NIGHT + 700)
    step = engine.step(NIGHT + 700)
    assert (step.reason[at("a-3", "a-4")] == Reason.FAILSAFE).all()
    assert engine.occupancy is not None and engine.occupancy.walkers().sum() == 0


def test_learnt_speeds_set_the_lead_within_the_policys_fastest_walker() -> None:
    """Walkers all at 1 m/s: once learnt, a-4 (60 m on) rises at 55 s instead of 25 s."""
    engine = engine_with(fastest_walker_mps=2.0, lead_s=5, learn_speeds=True)
    for k in range(40):  # 90 m in 90 s, one walker at a time
        engine.detect(at("a-2"), np.array([1]), NIGHT + 200 * k)
        engine.detect(at("a-5"), np.array([1]), NIGHT + 200 * k + 90)
    occupancy = engine.occupancy
    assert occupancy is not None
    learnt = {x.street: x for x in occupancy.speeds.report()}["rue-a"]
    assert learnt.fast_mps is not None and abs(learnt.fast_mps - 1.0) < 1e-6
    start = NIGHT + 10_000
    engine.detect(at("a-2"), np.array([1]), start)
    a4 = TOPOLOGY.index_of("a-4")
    assert engine.step(start + 50).reason[a4] == Reason.SCHEDULE
    assert engine.step(start + 56).reason[a4] == Reason.OCCUPANCY


def test_speeds_survive_a_snapshot_and_a_restore() -> None:
    """The samples as plain data give the same learnt values after a restore; unknown
    streets are skipped."""
    speeds = Speeds(("a", "b"), SpeedRules(samples=50, min_samples=5))
    for k in range(80):
        speeds.add(0, 1.0 + (k % 7) / 10)
    snapshot = speeds.snapshot()
    snapshot["streets"]["gone"] = [1.0]
    again = Speeds(("a", "b"), SpeedRules(samples=50, min_samples=5))
    assert again.restore(snapshot) == 50
    assert again.learnt(0) == speeds.learnt(0)
    assert again.learnt(1) is None
