"""The lighting engine's layers: schedule, presence, fail-safe, override, limits and ramps."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controllers.engine import Engine, Reason
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import topology_from_site

PARIS = ZoneInfo("Europe/Paris")
NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=PARIS).timestamp()
NOON = datetime(2026, 11, 10, 12, 0, tzinfo=PARIS).timestamp()
NIGHT_LEVEL = 0.3

# Street "long" has six segments listed out of order, street "short" three.
LAYOUT = [
    ("long", 3),
    ("long", 1),
    ("short", 1),
    ("long", 2),
    ("long", 6),
    ("short", 2),
    ("long", 4),
    ("long", 5),
    ("short", 3),
]


def angers_clock() -> AstronomicalClock:
    clock = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")
    assert clock.is_lit(NIGHT, 0, 0)  # preconditions the tests rely on
    assert not clock.is_lit(NOON, 0, 0)
    return clock


def make_engine(**policy: Any) -> Engine:
    site = SiteConfig.model_validate(
        {
            "site": {
                "id": "t",
                "latitude": 47.4712,
                "longitude": -0.5518,
                "timezone": "Europe/Paris",
            },
            "segments": [
                {
                    "id": f"{street}-{order}",
                    "street": street,
                    "order": order,
                    "length_m": 30,
                    "rated_power_w": 36,
                }
                for street, order in LAYOUT
            ],
        }
    )
    base: dict[str, Any] = {
        "schedule": {"night_level": NIGHT_LEVEL},
        "presence": {
            "level": 1.0,
            "hold_s": 60,
            "ramp_up_s": 1,
            "ramp_down_s": 10,
            "lookahead_segments": 2,
        },
        "limits": {"floor": 0.1, "max": 1.0},
    }
    for section, values in policy.items():
        base[section] = {**base.get(section, {}), **values}
    return Engine(topology_from_site(site), Policy.model_validate(base), angers_clock())


def idx(engine: Engine, *segment_ids: str) -> np.ndarray:
    return np.array([engine.topology.index_of(s) for s in segment_ids], dtype=np.int64)


def levels(engine: Engine, now_s: float) -> dict[str, float]:
    step = engine.step(now_s)
    return {sid: round(float(v), 6) for sid, v in zip(engine.topology.ids, step.level, strict=True)}


def raised(engine: Engine, now_s: float) -> set[str]:
    return {sid for sid, level in levels(engine, now_s).items() if level > NIGHT_LEVEL}


def detect(engine: Engine, segment_id: str, direction: int, now_s: float = NIGHT) -> None:
    engine.detect(idx(engine, segment_id), np.array([direction]), now_s)


def test_schedule_alone_gives_night_level_at_night_and_off_at_noon() -> None:
    """With no input every segment is at the night level while lit and at 0 by day."""
    engine = make_engine()
    assert set(levels(engine, NIGHT).values()) == {NIGHT_LEVEL}
    assert set(levels(engine, NOON).values()) == {0.0}
    step = engine.step(NIGHT)
    assert step.lit.all()
    assert (step.reason == Reason.SCHEDULE).all()


def test_presence_forward_raises_segment_and_lookahead_ahead_only() -> None:
    """A walker going forward raises their segment and the next two by order, nothing behind."""
    engine = make_engine()
    detect(engine, "long-3", +1)
    assert raised(engine, NIGHT) == {"long-3", "long-4", "long-5"}
    step = engine.step(NIGHT)
    for sid in ("long-3", "long-4", "long-5"):
        assert step.level[engine.topology.index_of(sid)] == 1.0
        assert step.reason[engine.topology.index_of(sid)] == Reason.PRESENCE
    assert step.reason[engine.topology.index_of("long-2")] == Reason.SCHEDULE


def test_presence_backward_raises_segments_behind_in_order() -> None:
    """A walker going backward raises the segments with lower order."""
    engine = make_engine()
    detect(engine, "long-3", -1)
    assert raised(engine, NIGHT) == {"long-1", "long-2", "long-3"}


def test_presence_without_direction_raises_both_ways() -> None:
    """Direction 0 (unknown) raises lookahead segments on both sides."""
    engine = make_engine()
    detect(engine, "long-3", 0)
    assert raised(engine, NIGHT) == {"long-1", "long-2", "long-3", "long-4", "long-5"}


def test_presence_stops_at_the_street_end_and_never_crosses_streets() -> None:
    """At the end of a street the lookahead is cut short; the other street stays at night level."""
    engine = make_engine(presence={"lookahead_segments": 5})
    detect(engine, "long-5", +1)
    assert raised(engine, NIGHT) == {"long-5", "long-6"}
    detect(engine, "short-1", -1)
    assert raised(engine, NIGHT) == {"long-5", "long-6", "short-1"}


def test_presence_ends_after_hold_and_returns_to_night_level() -> None:
    """After hold_s the raised segments go back to the night level, not to off."""
    engine = make_engine()
    detect(engine, "long-1", +1)
    assert raised(engine, NIGHT + 59) == {"long-1", "long-2", "long-3"}
    after = levels(engine, NIGHT + 60)
    assert set(after.values()) == {NIGHT_LEVEL}
    assert (engine.step(NIGHT + 60).reason == Reason.SCHEDULE).all()


def test_later_detection_extends_the_hold() -> None:
    """A second detection keeps the light up for hold_s from the latest one."""
    engine = make_engine()
    detect(engine, "long-1", +1, NIGHT)
    detect(engine, "long-1", +1, NIGHT + 40)
    assert "long-1" in raised(engine, NIGHT + 90)
    assert "long-1" not in raised(engine, NIGHT + 100)


def test_presence_by_day_does_not_switch_lamps_on() -> None:
    """A detection at noon leaves every lamp off."""
    engine = make_engine()
    detect(engine, "long-3", 0, NOON)
    step = engine.step(NOON)
    assert not step.presence.any()
    assert set(levels(engine, NOON).values()) == {0.0}


def test_presence_below_night_level_never_dims() -> None:
    """A presence level under the night level leaves the night level in place."""
    engine = make_engine(presence={"level": 0.2})
    detect(engine, "long-3", 0)
    assert set(levels(engine, NIGHT).values()) == {NIGHT_LEVEL}


def test_floor_clamps_while_lit_only() -> None:
    """A night level under the floor is raised to the floor at night; by day lamps stay off."""
    engine = make_engine(schedule={"night_level": 0.05}, limits={"floor": 0.15})
    assert set(levels(engine, NIGHT).values()) == {0.15}
    assert set(levels(engine, NOON).values()) == {0.0}


def test_max_clamps_presence() -> None:
    """Presence at 100 % is capped by limits.max."""
    engine = make_engine(limits={"max": 0.8})
    detect(engine, "long-1", +1)
    assert levels(engine, NIGHT)["long-1"] == 0.8


def test_override_beats_presence_and_expires() -> None:
    """An override replaces the presence level until it expires, then presence resumes."""
    engine = make_engine(presence={"hold_s": 600})
    detect(engine, "long-1", +1)
    engine.set_override(idx(engine, "long-1", "long-2"), 0.5, NIGHT + 100)
    step = engine.step(NIGHT + 10)
    assert step.level[idx(engine, "long-1", "long-2")].tolist() == [0.5, 0.5]
    assert step.reason[idx(engine, "long-1")][0] == Reason.OVERRIDE
    assert step.level[idx(engine, "long-3")][0] == 1.0
    assert levels(engine, NIGHT + 100)["long-1"] == 1.0


def test_override_to_zero_is_honoured_while_lit() -> None:
    """An operator's 0 switches a segment off at night despite the floor."""
    engine = make_engine()
    engine.set_override(idx(engine, "short-2"), 0.0, NIGHT + 3600)
    now = levels(engine, NIGHT)
    assert now["short-2"] == 0.0
    assert now["short-1"] == NIGHT_LEVEL


def test_override_is_capped_by_max_and_can_be_cleared() -> None:
    """Limits still cap an override; clear_override returns the segment to its schedule."""
    engine = make_engine(limits={"max": 0.7})
    engine.set_override(idx(engine, "short-2"), 1.0, np.inf)
    assert levels(engine, NIGHT)["short-2"] == 0.7
    engine.clear_override(idx(engine, "short-2"))
    assert levels(engine, NIGHT + 1)["short-2"] == NIGHT_LEVEL


def test_override_by_day_lights_a_segment() -> None:
    """An override applies even when the schedule says off (maintenance)."""
    engine = make_engine()
    engine.set_override(idx(engine, "long-6"), 0.6, NOON + 60)
    assert levels(engine, NOON)["long-6"] == 0.6


def test_failsafe_raises_a_stale_segment_while_lit_not_before() -> None:
    """A silent sensor's segment goes to the fail-safe level after stale_after_s, while lit."""
    engine = make_engine(failsafe={"stale_after_s": 600, "level": 0.9})
    engine.register_sensors(idx(engine, "long-2"), NIGHT)
    assert levels(engine, NIGHT + 600)["long-2"] == NIGHT_LEVEL
    step = engine.step(NIGHT + 601)
    assert step.level[idx(engine, "long-2")][0] == 0.9
    assert step.reason[idx(engine, "long-2")][0] == Reason.FAILSAFE
    assert set(np.flatnonzero(step.failsafe).tolist()) == set(idx(engine, "long-2").tolist())
    assert levels(engine, NIGHT + 601)["long-1"] == NIGHT_LEVEL


def test_failsafe_clears_when_the_sensor_speaks() -> None:
    """A reading (even without presence) resets the silence timer."""
    engine = make_engine(failsafe={"stale_after_s": 600, "level": 0.9})
    engine.register_sensors(idx(engine, "long-2"), NIGHT)
    engine.seen(idx(engine, "long-2"), NIGHT + 500)
    assert levels(engine, NIGHT + 1000)["long-2"] == NIGHT_LEVEL
    assert levels(engine, NIGHT + 1101)["long-2"] == 0.9


def test_failsafe_does_not_light_by_day_and_is_off_by_default() -> None:
    """A stale sensor by day leaves the lamp off; without stale_after_s nothing is stale."""
    engine = make_engine(failsafe={"stale_after_s": 600, "level": 0.9})
    engine.register_sensors(idx(engine, "long-2"), NOON - 3600)
    assert levels(engine, NOON)["long-2"] == 0.0
    default = make_engine()
    default.register_sensors(idx(default, "long-2"), NIGHT - 10**6)
    assert levels(default, NIGHT)["long-2"] == NIGHT_LEVEL


def test_ramp_is_ramp_up_when_rising_and_ramp_down_when_falling() -> None:
    """Rising targets carry ramp_up_s, falling ones ramp_down_s."""
    engine = make_engine(presence={"ramp_up_s": 2, "ramp_down_s": 15})
    first = engine.step(NIGHT)
    assert set(first.ramp_s.tolist()) == {2.0}  # from 0 up to the night level
    detect(engine, "long-1", +1, NIGHT + 1)
    up = engine.step(NIGHT + 1)
    assert up.ramp_s[idx(engine, "long-1")][0] == 2.0
    down = engine.step(NIGHT + 61)
    assert down.ramp_s[idx(engine, "long-1")][0] == 15.0
    assert down.level[idx(engine, "long-1")][0] == NIGHT_LEVEL
    dawn = engine.step(NOON + 86400)  # the next day
    assert set(dawn.ramp_s.tolist()) == {15.0}


def test_replace_policy_keeps_presence_state() -> None:
    """A reloaded policy applies at once while detections already made stay in force."""
    engine = make_engine()
    detect(engine, "long-1", +1)
    engine.replace_policy(
        Policy.model_validate({"schedule": {"night_level": 0.2}, "presence": {"level": 0.9}})
    )
    now = levels(engine, NIGHT + 30)
    assert now["long-1"] == 0.9
    assert now["long-3"] == 0.9
    assert now["long-4"] == 0.2


@pytest.mark.parametrize("direction", [-1, 0, 1])
def test_step_exposes_its_components(direction: int) -> None:
    """Step carries the schedule level and presence mask that explain the targets."""
    engine = make_engine()
    detect(engine, "long-3", direction)
    step = engine.step(NIGHT)
    assert np.allclose(step.schedule_level, NIGHT_LEVEL)
    assert step.presence.sum() == (5 if direction == 0 else 3)
    assert not step.override.any()
    assert step.now_s == NIGHT


def photometry_engine(**policy: Any) -> Engine:
    """Street `lit` of three segments rated P4 with lamps giving 10 lx at full (P4 is 0.5)."""
    site = SiteConfig.model_validate(
        {
            "site": {
                "id": "t",
                "latitude": 47.4712,
                "longitude": -0.5518,
                "timezone": "Europe/Paris",
            },
            "segments": [
                {
                    "id": f"lit-{n}",
                    "street": "lit",
                    "order": n,
                    "length_m": 30,
                    "rated_power_w": 36,
                    "lighting_class": "P4",
                    "lux_at_full_lx": 10 if n < 3 else 20,
                }
                for n in range(1, 4)
            ],
            "junctions": {},
        }
    )
    full = Policy.model_validate({"schedule": {"night_level": 0.1}, **policy})
    return Engine(topology_from_site(site), full, angers_clock())


def test_occupied_level_defaults_to_the_rated_class_through_the_photometry() -> None:
    """Presence without a level raises each segment to its rated class: 5 lx of 10 or of 20."""
    engine = photometry_engine(presence={"lookahead_segments": 2})
    engine.detect(np.array([0]), np.array([1]), NIGHT)
    step = engine.step(NIGHT)
    assert step.level.tolist() == [0.5, 0.5, 0.25]
    assert step.occupied_level.tolist() == [0.5, 0.5, 0.25]
    assert np.allclose(step.floor, 0.1)


def test_segments_ahead_may_get_a_level_of_their_own() -> None:
    """ahead_level applies to the look-ahead; the walker's own segment gets the occupied level."""
    engine = photometry_engine(
        presence={"level": 1.0, "ahead_level": "P5", "lookahead_segments": 2}
    )
    engine.detect(np.array([0]), np.array([1]), NIGHT)
    assert np.allclose(engine.step(NIGHT).level, [1.0, 0.3, 0.15])


def test_presence_never_dims_below_the_base_and_never_switches_off() -> None:
    """An occupied level under the night level leaves the night level; after the hold, the
    night level, not off."""
    engine = photometry_engine(schedule={"night_level": 0.6}, presence={"level": 0.2, "hold_s": 10})
    engine.detect(np.array([1]), np.array([0]), NIGHT)
    assert np.allclose(engine.step(NIGHT).level, 0.6)
    assert np.allclose(engine.step(NIGHT + 11).level, 0.6)


def test_presence_follows_a_junction_into_the_next_street() -> None:
    """A walker at the end of one street lights the first segments of the joined street."""
    site = SiteConfig.model_validate(
        {
            "site": {
                "id": "t",
                "latitude": 47.4712,
                "longitude": -0.5518,
                "timezone": "Europe/Paris",
            },
            "segments": [
                {"id": f"{s}-{n}", "street": s, "order": n, "length_m": 30, "rated_power_w": 36}
                for s in ("a", "b")
                for n in (1, 2, 3)
            ],
            "junctions": {"corner": ["a-3", "b-1"]},
        }
    )
    policy = Policy.model_validate({"presence": {"level": 1.0, "lookahead_segments": 2}})
    engine = Engine(topology_from_site(site), policy, angers_clock())
    engine.detect(np.array([engine.topology.index_of("a-2")]), np.array([1]), NIGHT)
    raised_ids = {engine.topology.ids[i] for i in np.flatnonzero(engine.step(NIGHT).level == 1.0)}
    assert raised_ids == {"a-2", "a-3", "b-1"}


def test_reasons_name_the_layer_that_decided() -> None:
    """Presence above the base says presence; the fail-safe above presence says failsafe."""
    engine = make_engine(failsafe={"stale_after_s": 60, "level": 0.5}, presence={"level": 0.4})
    engine.register_sensors(idx(engine, "long-1", "long-3"), NIGHT - 120)
    detect(engine, "long-3", 0, NIGHT)
    step = engine.step(NIGHT)
    reasons = dict(zip(engine.topology.ids, step.reason.tolist(), strict=True))
    assert reasons["long-1"] == Reason.FAILSAFE
    assert reasons["long-2"] == Reason.PRESENCE
    assert reasons["long-3"] == Reason.PRESENCE  # seen just now: not stale
    assert reasons["long-6"] == Reason.SCHEDULE


def test_a_class_floor_follows_each_segment_photometry() -> None:
    """floor: P6 is 2 lx: 0.2 where lamps give 10 lx at full, 0.1 where they give 20 lx."""
    engine = photometry_engine(schedule={"night_level": 0.05}, limits={"floor": "P6"})
    assert np.allclose(engine.step(NIGHT).level, [0.2, 0.2, 0.1])


def test_ramp_limit_lengthens_fades_to_the_fastest_allowed_change() -> None:
    """With at most 20 %/s, 0.3 → 1.0 takes 3.5 s although ramp_up_s is 1 s; back down takes
    the longer of ramp_down_s and the limit."""
    engine = make_engine(limits={"max_ramp_per_s": "20%"}, presence={"hold_s": 60})
    engine.step(NIGHT - 100)
    detect(engine, "long-1", +1, NIGHT)
    i = idx(engine, "long-1")[0]
    assert engine.step(NIGHT).ramp_s[i] == pytest.approx(3.5)
    assert engine.step(NIGHT + 60).ramp_s[i] == pytest.approx(10.0)


def test_ramp_limit_counts_from_where_the_lamp_is_in_its_fade() -> None:
    """A lamp still fading down from 1.0 (15 s) and told to go to 0 halfway has 0.65 to go."""
    engine = make_engine(
        limits={"max_ramp_per_s": 0.1, "floor": 0.0}, presence={"hold_s": 10, "ramp_down_s": 1}
    )
    engine.step(NIGHT - 100)
    detect(engine, "short-1", 0, NIGHT - 100)
    i = idx(engine, "short-1")[0]
    engine.step(NIGHT - 100)  # 0.3 → 1.0
    engine.step(NIGHT - 90)  # 1.0 → 0.3: 7 s at 0.1 per second
    engine.set_override(idx(engine, "short-1"), 0.0, NIGHT + 100)
    step = engine.step(NIGHT - 86.5)  # halfway: at 0.65
    assert step.ramp_s[i] == pytest.approx(6.5)


def test_max_caps_every_layer_and_overrides() -> None:
    """limits.max caps presence, the fail-safe and an override alike."""
    engine = make_engine(limits={"max": 0.6}, failsafe={"stale_after_s": 10, "level": 1.0})
    engine.register_sensors(idx(engine, "short-3"), NIGHT - 100)
    detect(engine, "long-1", 0)
    engine.set_override(idx(engine, "long-6"), 1.0, NIGHT + 100)
    step = engine.step(NIGHT)
    assert step.level.max() == pytest.approx(0.6)
    for sid in ("long-1", "short-3", "long-6"):
        assert step.level[idx(engine, sid)][0] == pytest.approx(0.6)


def test_failsafe_goes_to_the_rated_level_by_default() -> None:
    """A stale segment without a failsafe level is lit at its rated class (P4 of 10 lx: 0.5)."""
    engine = photometry_engine(failsafe={"stale_after_s": "5m"})
    engine.register_sensors(np.array([1]), NIGHT - 3600)
    step = engine.step(NIGHT)
    assert np.allclose(step.level, [0.1, 0.5, 0.1])
    assert step.reason.tolist() == [Reason.SCHEDULE, Reason.FAILSAFE, Reason.SCHEDULE]
