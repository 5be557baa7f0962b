"""Properties of zone occupancy: whatever the counters' places and the walkers, nobody inside a
zone is under-lit, and a zone's count never goes negative.

One street of eight 30 m segments, counters at both ends and anywhere between; walkers enter
at either end at any time, at any speed up to the policy's fastest walker, may stop once, and
are seen (perfectly) entering each counter segment, and cross each zone within the time the
policy's slowest walker would take (beyond it, a walker is taken to have been missed).
Presence is off (no hold, no look-ahead), so what lights a walker between two counters is
occupancy alone.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.engine import Engine
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import topology_from_site

NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
SEGMENTS, LENGTH_M, FASTEST_MPS = 8, 30.0, 2.0
POLICY = Policy.model_validate(
    {
        "schedule": {"night_level": 0.3},
        "presence": {
            "hold_s": 0,
            "lookahead_segments": 0,
            "fastest_walker_mps": FASTEST_MPS,
            "lead_s": 0,
            "occupancy": True,
            "slowest_walker_mps": 0.5,
        },
    }
)


def site_with(counters: list[int]) -> SiteConfig:
    segment = {"street": "z", "length_m": LENGTH_M, "rated_power_w": 36, "lighting_class": "P4"}
    return SiteConfig.model_validate(
        {
            "site": {"id": "p", "latitude": 47.47, "longitude": -0.55, "timezone": "Europe/Paris"},
            "segments": [{"id": f"z-{n}", "order": n, **segment} for n in range(SEGMENTS)],
            "devices": {f"c{n}": {"kind": "pedestrian", "segment": f"z-{n}"} for n in counters},
        }
    )


@dataclass(frozen=True)
class Walker:
    start_s: float
    forward: bool
    speed_mps: float
    stop_segment: int
    stop_s: float

    def entries(self) -> list[tuple[float, int]]:
        """(time, segment) of each segment entered, in the order walked."""
        order = range(SEGMENTS) if self.forward else range(SEGMENTS - 1, -1, -1)
        out, time_s = [], self.start_s
        for segment in order:
            out.append((time_s, segment))
            time_s += LENGTH_M / self.speed_mps + (
                self.stop_s if segment == self.stop_segment else 0
            )
        out.append((time_s, -1))  # off the street
        return out

    def segment_at(self, time_s: float) -> int:
        """The segment under the walker at `time_s` (-1: not on the street)."""
        here = -1
        for entered_s, segment in self.entries():
            if entered_s <= time_s:
                here = segment
        return here if time_s >= self.start_s else -1


WALKERS = st.lists(
    st.builds(
        Walker,
        start_s=st.floats(min_value=0, max_value=300),
        forward=st.booleans(),
        speed_mps=st.floats(min_value=0.8, max_value=FASTEST_MPS),
        stop_segment=st.integers(min_value=-1, max_value=SEGMENTS - 1),
        # The promise holds for walkers who cross a zone within the slowest walker's time
        # (0.5 m/s): at 0.8 m/s or more, a stop of up to 20 s keeps any 30 m gap within it.
        stop_s=st.floats(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=6,
)
INNER = st.lists(st.integers(min_value=1, max_value=SEGMENTS - 2), max_size=4, unique=True)


def between_counters(walker: Walker, segment: int, counters: list[int]) -> bool:
    """Whether the walker has a counter ahead: it is in a closed zone, not past the last."""
    if walker.forward:
        return any(c > segment for c in counters)
    return any(c < segment for c in counters)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INNER, WALKERS)
def test_no_walker_inside_a_zone_is_under_lit(inner: list[int], walkers: list[Walker]) -> None:
    """At every second, each walker with a counter ahead is at least at the occupied level."""
    counters = sorted({0, SEGMENTS - 1, *inner})
    topology = topology_from_site(site_with(counters))
    engine = Engine(topology, POLICY, AstronomicalClock(47.47, -0.55, "Europe/Paris"))
    detections = sorted(
        (t, segment, 1 if w.forward else -1)
        for w in walkers
        for t, segment in w.entries()
        if segment in counters
    )
    end_s = max(w.entries()[-1][0] for w in walkers)
    k = 0
    for second in range(int(end_s) + 1):
        while k < len(detections) and detections[k][0] <= second:
            time_s, segment, direction = detections[k]
            engine.detect(np.array([segment]), np.array([direction]), NIGHT + time_s)
            k += 1
        step = engine.step(NIGHT + second)
        assert engine.occupancy is not None
        assert (engine.occupancy.walkers() >= 0).all()
        for walker in walkers:
            here = walker.segment_at(second)
            if here >= 0 and between_counters(walker, here, counters):
                assert step.level[here] >= step.occupied_level[here] - 1e-6, (second, walker)
