"""Properties of the engine under any policy and any sequence of events.

Whatever the policy and the inputs: levels stay within [0, max], never below the floor or the
schedule while lit (an override aside), off by day unless overridden; every fade respects the
ramp limit from where the lamp is (checked against controllers.lamps, the lamps' own model);
a stale segment gets at least its fail-safe level; an override holds its level until it
expires and not a moment longer.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.engine import Engine, Reason
from controllers.lamps import LampBank
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import topology_from_site

PARIS = ZoneInfo("Europe/Paris")
EVENING = datetime(2026, 11, 10, 16, 30, tzinfo=PARIS).timestamp()  # sunset is about 17:20
DAWN = datetime(2026, 11, 11, 7, 0, tzinfo=PARIS).timestamp()  # sunrise is about 08:10
EPS = 1e-5
LAYOUT = [("m", n, 10.0) for n in range(1, 6)] + [("s", n, 20.0) for n in range(1, 4)]
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "p", "latitude": 47.4712, "longitude": -0.5518, "timezone": "Europe/Paris"},
        "segments": [
            {
                "id": f"{street}-{n}",
                "street": street,
                "order": n,
                "length_m": 30,
                "rated_power_w": 36,
                "lighting_class": "P4" if street == "m" else "P3",
                "lux_at_full_lx": lux,
            }
            for street, n, lux in LAYOUT
        ],
        "junctions": {"corner": ["m-5", "s-1"]},
        "devices": {
            "c1": {"kind": "pedestrian", "segment": "m-2"},
            "c2": {"kind": "pedestrian", "segment": "s-2"},
            "b1": {"kind": "bin", "segment": "m-4"},
        },
    }
)
TOPOLOGY = topology_from_site(SITE)
SIZE = TOPOLOGY.size
SENSED = np.array([TOPOLOGY.index_of(s) for s in ("m-2", "s-2", "m-4")])

LEVELS = st.one_of(
    st.floats(min_value=0.0, max_value=1.0), st.sampled_from(["P3", "P4", "P5", "P6", "rated"])
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    floor = draw(st.one_of(st.floats(min_value=0.0, max_value=0.6), st.just("P6")))
    top = draw(st.floats(min_value=floor if isinstance(floor, float) else 0.0, max_value=1.0))
    times = draw(
        st.lists(st.sampled_from(["18:00", "22:30", "01:00", "05:00"]), max_size=2, unique=True)
    )
    steps = [{"at": at, "level": draw(LEVELS | st.just("off"))} for at in times]
    data: dict[str, Any] = {
        "schedule": {"night_level": draw(LEVELS), "steps": steps},
        "presence": {
            "level": draw(LEVELS),
            "ahead_level": draw(st.none() | LEVELS),
            "hold_s": draw(st.floats(min_value=0, max_value=300)),
            "ramp_up_s": draw(st.floats(min_value=0, max_value=5)),
            "ramp_down_s": draw(st.floats(min_value=0, max_value=30)),
            "lookahead_segments": draw(st.integers(min_value=0, max_value=3)),
            "fastest_walker_mps": draw(st.none() | st.floats(min_value=0.5, max_value=5)),
            "lead_s": draw(st.floats(min_value=0, max_value=20)),
            "occupancy": draw(st.booleans()),
            "learn_speeds": draw(st.booleans()),
        },
        "traffic": {"enabled": draw(st.booleans()), "classes": {"P3": 40, "P4": 10, "P6": 0}},
        "limits": {
            "floor": floor,
            "max": top,
            "max_ramp_per_s": draw(st.none() | st.floats(min_value=0.05, max_value=2.0)),
        },
        "failsafe": {
            "stale_after_s": draw(st.none() | st.floats(min_value=30, max_value=600)),
            "level": draw(LEVELS),
        },
    }
    return Policy.model_validate(data)


@dataclass(frozen=True)
class Event:
    dt_s: float
    kind: str
    segment: int
    value: float


EVENTS = st.lists(
    st.builds(
        Event,
        dt_s=st.floats(min_value=0.5, max_value=400),
        kind=st.sampled_from(["detect", "seen", "override", "clear", "tick"]),
        segment=st.integers(min_value=0, max_value=SIZE - 1),
        value=st.floats(min_value=0.0, max_value=1.0),
    ),
    min_size=1,
    max_size=25,
)


class Watcher:
    """The engine with an independent record of overrides, sensor silence and lamp fades."""

    def __init__(self, policy: Policy, start_s: float) -> None:
        clock = AstronomicalClock(47.4712, -0.5518, "Europe/Paris")
        self.engine = Engine(TOPOLOGY, policy, clock)
        self.engine.register_sensors(SENSED, start_s)
        self.last_seen = {int(i): start_s for i in SENSED}
        self.overrides: dict[int, tuple[float, float]] = {}
        self.lamps = LampBank(SIZE)
        self.previous = np.zeros(SIZE, dtype=np.float32)

    def apply(self, event: Event, now_s: float) -> None:
        segment = np.array([event.segment])
        if event.kind == "detect":
            self.engine.detect(segment, np.array([int(event.value * 3) - 1]), now_s, np.array([3]))
            self._seen(event.segment, now_s)
        elif event.kind == "seen" and event.segment in self.last_seen:
            self.engine.seen(segment, now_s)
            self._seen(event.segment, now_s)
        elif event.kind == "override":
            until_s = now_s + 60 * (1 + event.value * 10)
            self.engine.set_override(segment, event.value, until_s)
            self.overrides[event.segment] = (event.value, until_s)
        elif event.kind == "clear":
            self.engine.clear_override(segment)
            self.overrides.pop(event.segment, None)

    def _seen(self, segment: int, now_s: float) -> None:
        if segment in self.last_seen:
            self.last_seen[segment] = max(self.last_seen[segment], now_s)


def check_step(w: Watcher, now_s: float) -> None:
    step = w.engine.step(now_s)
    r = w.engine.resolved
    level, lit = step.level.astype(np.float64), step.lit
    overridden = np.zeros(SIZE, dtype=np.bool_)
    for segment, (value, until_s) in w.overrides.items():
        if until_s > now_s:
            overridden[segment] = True
            assert abs(level[segment] - min(value, float(r.max[segment]))) < EPS
    assert (step.override == overridden).all(), "an override outlived its expiry, or vanished"
    assert (step.reason[~overridden] != Reason.OVERRIDE).all()
    assert (level >= -EPS).all() and (level <= r.max + EPS).all(), "outside [0, max]"
    free = ~overridden
    assert (level[free & ~lit] == 0).all(), "lit while the schedule says off"
    lower = np.minimum(r.floor, r.max)
    assert (level[free & lit] >= lower[free & lit] - EPS).all(), "below the floor while lit"
    schedule = step.schedule_level.astype(np.float64)
    assert (level[free & lit] >= schedule[free & lit] - EPS).all(), "below the schedule"
    stale_after = w.engine.policy.failsafe.stale_after_s
    if stale_after is not None:
        for segment, seen_s in w.last_seen.items():
            if now_s - seen_s > stale_after and lit[segment] and not overridden[segment]:
                assert level[segment] >= float(r.failsafe_level[segment]) - EPS, "fail-safe missed"
    check_fades(w, step.level, step.ramp_s, now_s)


def check_fades(w: Watcher, target: np.ndarray, ramp_s: np.ndarray, now_s: float) -> None:
    """Each new fade, from where the lamp is, is no faster than the ramp limit."""
    changed = np.flatnonzero(target != w.previous)
    here = w.lamps.level(now_s)[changed]
    rate = w.engine.resolved.max_ramp_per_s[changed].astype(np.float64)
    distance = np.abs(target[changed] - here)
    with np.errstate(invalid="ignore"):  # no limit (inf) times an instant fade (0): no bound
        allowed = np.where(np.isinf(rate), np.inf, rate * ramp_s[changed] * (1 + 1e-4))
    fast = distance > allowed + EPS
    assert not fast.any(), (
        f"a fade beats the ramp limit: {distance[fast]} in {ramp_s[changed][fast]}"
    )
    w.lamps.command(
        changed, target[changed].astype(np.float64), ramp_s[changed].astype(np.float64), now_s
    )
    w.previous = target.copy()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), EVENTS, st.sampled_from([EVENING, DAWN]))
def test_levels_limits_ramps_failsafe_and_overrides_hold(
    policy: Policy, events: list[Event], start_s: float
) -> None:
    """Every step of any timeline keeps every invariant of the module docstring."""
    watcher = Watcher(policy, start_s)
    now_s = start_s
    check_step(watcher, now_s)
    for event in events:
        now_s += event.dt_s
        watcher.apply(event, now_s)
        check_step(watcher, now_s)


@settings(max_examples=60, deadline=None)
@given(policies(), st.floats(min_value=0, max_value=1), st.floats(min_value=1, max_value=3600))
def test_an_override_ends_exactly_at_its_expiry(
    policy: Policy, value: float, span_s: float
) -> None:
    """Overridden just before the expiry, not at it."""
    watcher = Watcher(policy, EVENING)
    segment = np.array([3])
    watcher.engine.set_override(segment, value, EVENING + 3600 + span_s)
    assert watcher.engine.step(EVENING + 3600 + span_s - 1e-3).override[3]
    after = watcher.engine.step(EVENING + 3600 + span_s)
    assert not after.override[3]
    assert after.reason[3] != Reason.OVERRIDE
