"""One full engine step for 1k to 1M segments, against a per-segment Python loop of the same rules.

Both run in this process on the same state, so the ratio holds on a noisy shared machine. The
loop's results are checked equal to the engine's on a sample before anything is timed. The last
line printed is the JSON summary.
"""

import argparse
import json
import math
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from controllers.engine import Engine, Reason
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy
from controllers.topology import Topology

SEGMENTS_PER_STREET = 20
LOOP_SAMPLE = 20_000  # the loop is timed on this many segments and scaled, or it takes minutes


def street_topology(size: int) -> Topology:
    """`size` segments in streets of 20, built as arrays (a site file would be the slow part)."""
    index = np.arange(size)
    position = index % SEGMENTS_PER_STREET
    next_index = np.where(
        (position < SEGMENTS_PER_STREET - 1) & (index + 1 < size), index + 1, size
    )
    prev_index = np.where(position > 0, index - 1, size)
    return Topology(
        ids=tuple(f"s{i}" for i in range(size)),
        streets=tuple(f"st{i}" for i in range(math.ceil(size / SEGMENTS_PER_STREET))),
        street_of=index // SEGMENTS_PER_STREET,
        length_m=np.full(size, 30.0),
        rated_power_w=np.full(size, 72.0),
        standby_power_w=np.full(size, 1.0),
        lux_at_full_lx=np.full(size, 10.0),
        rated_class=np.full(size, 3, dtype=np.int64),
        next_index=next_index.astype(np.int64),
        prev_index=prev_index.astype(np.int64),
    )


def busy_engine(size: int, now_s: float, rng: np.random.Generator) -> Engine:
    """An engine mid-night: presence on 5 %, overrides on 1 %, stale sensors on 2 %."""
    policy = Policy.model_validate({"failsafe": {"stale_after_s": 600}})
    clock = AstronomicalClock(47.47, -0.55, "Europe/Paris")
    engine = Engine(street_topology(size), policy, clock)
    engine.register_sensors(np.flatnonzero(rng.random(size) < 0.3), now_s - 60)
    engine.seen(np.flatnonzero(rng.random(size) < 0.28), now_s - 10)
    walkers = np.flatnonzero(rng.random(size) < 0.05)
    engine.detect(walkers, rng.integers(-1, 2, walkers.size), now_s - rng.uniform(0, 200))
    engine.set_override(np.flatnonzero(rng.random(size) < 0.01), 0.8, now_s + 600)
    engine.step(now_s - 1)
    return engine


def loop_step(engine: Engine, now_s: float, segments: range) -> list[tuple[float, int]]:
    """The same layers, one segment at a time, in plain Python (the baseline)."""
    p = engine.policy
    lit = engine._clock.is_lit(now_s, p.schedule.sunset_offset_s, p.schedule.sunrise_offset_s)
    part = slice(segments.start, segments.stop)
    presence_until = engine._presence_until_s[part].tolist()
    has_sensor = engine._has_sensor[part].tolist()
    last_seen = engine._last_seen_s[part].tolist()
    override_level = engine._override_level[part].tolist()
    override_until = engine._override_until_s[part].tolist()
    out = []
    for i in range(len(segments)):
        level = p.schedule.night_level if lit else 0.0
        reason = Reason.SCHEDULE
        if lit and presence_until[i] > now_s and p.presence.level > level:
            level, reason = p.presence.level, Reason.PRESENCE
        stale_after = p.failsafe.stale_after_s
        stale = has_sensor[i] and stale_after is not None and now_s - last_seen[i] > stale_after
        if lit and stale and p.failsafe.level > level:
            level, reason = p.failsafe.level, Reason.FAILSAFE
        overridden = override_until[i] > now_s
        if overridden:
            level, reason = override_level[i], Reason.OVERRIDE
        floor = 0.0 if overridden else (p.limits.floor if lit else 0.0)
        out.append((min(max(level, floor), p.limits.max), int(reason)))
    return out


def best_of(repeats: int, run: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def measure(size: int, now_s: float, repeats: int) -> dict[str, float]:
    engine = busy_engine(size, now_s, np.random.default_rng(size))
    sample = range(min(size, LOOP_SAMPLE))
    step = engine.step(now_s)
    expected = loop_step(engine, now_s, sample)
    assert np.allclose(step.level[: len(sample)], [lv for lv, _ in expected]), "levels differ"
    assert (step.reason[: len(sample)] == [r for _, r in expected]).all(), "reasons differ"
    engine_s = best_of(repeats, lambda: engine.step(now_s))
    loop_s = best_of(max(1, repeats // 3), lambda: loop_step(engine, now_s, sample))
    loop_per_segment_s = loop_s / len(sample)
    return {
        "segments": size,
        "ns_per_segment": round(engine_s / size * 1e9, 2),
        "speedup_vs_loop": round(loop_per_segment_s * size / engine_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    now_s = datetime(2026, 11, 22, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = measure(size, now_s, args.repeats)
        print(
            f"{size:>9} segments: {result['ns_per_segment']:>8} ns/segment, "
            f"{result['speedup_vs_loop']:>7}x the loop",
            flush=True,
        )
        results.append(result)
    print(json.dumps({"bench": "controller", "results": results}))


if __name__ == "__main__":
    main()
