"""Traffic-adaptive classes: the rolling flow picks a P-class, with hysteresis and a cap."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.classes import CLASS_NAMES
from controllers.engine import Engine, Reason
from controllers.resolve import TrafficRule
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import topology_from_site
from controllers.traffic import BUCKETS, NO_CLASS, Flow, select

PARIS = ZoneInfo("Europe/Paris")
NIGHT = datetime(2026, 11, 10, 21, 0, tzinfo=PARIS).timestamp()
LUX = 15.0  # at full: P3 (7.5 lx) is 0.5, P4 1/3, P5 0.2, P6 2/15
CLASSES = {"P3": 120, "P4": 40, "P5": 8, "P6": 0}


def site(rated: str = "P3", devices: dict[str, Any] | None = None) -> SiteConfig:
    segments = [("m", n) for n in range(1, 6)] + [("q", n) for n in range(1, 3)]
    return SiteConfig.model_validate(
        {
            "site": {
                "id": "t",
                "latitude": 47.4712,
                "longitude": -0.5518,
                "timezone": "Europe/Paris",
            },
            "segments": [
                {
                    "id": f"{s}-{n}",
                    "street": s,
                    "order": n,
                    "length_m": 30,
                    "rated_power_w": 36,
                    "lighting_class": rated,
                    "lux_at_full_lx": LUX,
                }
                for s, n in segments
            ],
            "devices": {"c": {"kind": "pedestrian", "segment": "m-2"}}
            if devices is None
            else devices,
        }
    )


def engine(rated: str = "P3", devices: dict[str, Any] | None = None, **traffic: Any) -> Engine:
    policy = Policy.model_validate(
        {
            "schedule": {"night_level": 0.1},
            "presence": {"level": "rated", "hold_s": 1, "lookahead_segments": 0},
            "limits": {"floor": 0.1},
            "traffic": {
                "enabled": True,
                "window_s": "15m",
                "hysteresis": 0.2,
                "classes": CLASSES,
                **traffic,
            },
        }
    )
    clock = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")
    return Engine(topology_from_site(site(rated, devices)), policy, clock)


def walkers(e: Engine, count: int, now_s: float) -> None:
    e.detect(np.array([e.topology.index_of("m-2")]), np.array([0]), now_s, np.array([count]))


def state(e: Engine, now_s: float, segment: str = "m-4") -> tuple[str, float, str]:
    step = e.step(now_s)
    i = e.topology.index_of(segment)
    cls = int(step.traffic_class[i])
    name = CLASS_NAMES[cls] if cls != NO_CLASS else "-"
    return name, round(float(step.level[i]), 4), Reason(step.reason[i]).name.lower()


def test_a_quiet_street_takes_the_quietest_class_and_one_without_counter_its_schedule() -> None:
    """No walkers: P6 on the counted street (above the schedule); schedule on the other."""
    e = engine()
    assert state(e, NIGHT) == ("P6", round(2 / 15, 4), "traffic")
    assert state(e, NIGHT, "q-1") == ("-", 0.1, "schedule")


def test_a_site_without_any_counter_keeps_its_schedule_with_traffic_on() -> None:
    """Only bins and meters (a services district): traffic has nothing to count, no crash."""
    e = engine(devices={"b": {"kind": "bin", "segment": "m-2"}})
    assert state(e, NIGHT) == ("-", 0.1, "schedule")


def test_a_busy_street_steps_up_at_once_and_down_when_the_window_has_passed() -> None:
    """40 walkers in 15 min is 160/h (≥ 120 × 1.2): P3 right away; quiet again a window later."""
    e = engine()
    e.step(NIGHT)
    walkers(e, 40, NIGHT + 10)
    assert state(e, NIGHT + 20) == ("P3", 0.5, "traffic")
    assert state(e, NIGHT + 20, "m-5")[0] == "P3"  # the whole street takes its counter's flow
    assert state(e, NIGHT + 800)[0] == "P3"
    assert state(e, NIGHT + 15 * 60 + 120) == ("P6", round(2 / 15, 4), "traffic")


def test_hysteresis_keeps_a_class_near_its_threshold() -> None:
    """130/h is above P3's 120 but not by 20 %: a quiet street stays P4; a P3 street stays P3."""
    e = engine()
    walkers(e, 30, NIGHT)  # 120/h: P4 (40 × 1.2 = 48 reached, 144 not)
    assert state(e, NIGHT + 1)[0] == "P4"
    walkers(e, 3, NIGHT + 60)  # 132/h
    assert state(e, NIGHT + 61)[0] == "P4"
    walkers(e, 10, NIGHT + 120)  # 172/h: up
    assert state(e, NIGHT + 121)[0] == "P3"


def test_never_above_the_rated_class_unless_allowed() -> None:
    """A P4-rated street stays at P4 when busy; with above_rated it may reach P3."""
    capped = engine(rated="P4")
    walkers(capped, 60, NIGHT)
    assert state(capped, NIGHT + 1)[0] == "P4"
    free = engine(rated="P4", above_rated=True)
    walkers(free, 60, NIGHT)
    assert state(free, NIGHT + 1)[0] == "P3"


def test_traffic_is_off_unless_enabled() -> None:
    """With the default policy no class is selected anywhere."""
    topology = topology_from_site(site())
    e = Engine(topology, Policy(), AstronomicalClock(47.4712, -0.5518, "Europe/Paris"))
    e.detect(np.array([topology.index_of("m-2")]), np.array([0]), NIGHT, np.array([100]))
    assert (e.step(NIGHT + 100).traffic_class == NO_CLASS).all()


def test_presence_returns_to_the_class_level_not_to_the_schedule() -> None:
    """After the hold, a busy street falls back to its class level, not the night level."""
    e = engine()
    walkers(e, 40, NIGHT)
    assert state(e, NIGHT + 0.5, "m-2") == ("P3", 0.5, "traffic")  # rated P3: presence = class
    assert state(e, NIGHT + 5, "m-2") == ("P3", 0.5, "traffic")


def test_flow_counts_leave_the_window_bucket_by_bucket() -> None:
    """Counts stay for the window and leave it a bucket at a time; a long gap clears all."""
    topology = topology_from_site(site())
    flow = Flow(topology, window_s=900)
    slot = np.array([0])
    counter = np.array([topology.index_of("m-2")])
    flow.add(counter, np.array([9]), 0.0)
    flow.add(counter, np.array([3]), 450.0)
    assert flow.per_h(slot).tolist() == [48.0]
    assert flow.advance(905.0).tolist() == [0]
    assert flow.per_h(slot).tolist() == [12.0]
    assert flow.advance(906.0).tolist() == []
    flow.add(counter, np.array([5]), 1000.0)
    flow.advance(1000.0 + 10 * 900)
    assert flow.per_h(slot).tolist() == [0.0]
    assert flow.bucket_s == 900 / BUCKETS


RULE = TrafficRule(True, 0.2, np.array([np.nan, np.nan, 120.0, 40.0, 8.0, 0.0]), False)


@given(
    st.floats(min_value=0, max_value=1000, allow_nan=False),
    st.floats(min_value=0, max_value=1000, allow_nan=False),
    st.sampled_from([NO_CLASS, 2, 3, 4, 5]),
)
def test_more_flow_never_selects_a_quieter_class(low: float, high: float, current: int) -> None:
    """From the same class, a higher flow gives the same or a busier class."""
    low, high = min(low, high), max(low, high)
    flows = np.array([low, high])
    chosen = select(flows, np.array([current, current], dtype=np.int8), RULE)
    assert chosen[1] <= chosen[0]
    assert set(chosen.tolist()) <= {2, 3, 4, 5}


@given(st.floats(min_value=0, max_value=1000, allow_nan=False), st.sampled_from([2, 3, 4, 5]))
def test_a_class_is_left_only_beyond_the_hysteresis(flow: float, current: int) -> None:
    """The class changes only when the flow is past a threshold by the hysteresis margin."""
    chosen = int(select(np.array([flow]), np.array([current], dtype=np.int8), RULE)[0])
    thresholds = RULE.thresholds_per_h
    if chosen < current:
        assert flow >= thresholds[chosen] * 1.2
    if chosen > current:
        assert flow < thresholds[current] * 0.8


@pytest.mark.parametrize(
    ("classes", "message"),
    [({"P3": 10, "P4": 40}, "P3 needs more pedestrians per hour than P4"), ({"P6": -1}, "≥ 0")],
)
def test_thresholds_must_fall_with_the_class(classes: dict[str, float], message: str) -> None:
    """Busier classes need more walkers; thresholds are never negative."""
    with pytest.raises(ValueError, match=message):
        Policy.model_validate({"traffic": {"classes": classes}})
