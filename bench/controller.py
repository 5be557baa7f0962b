"""One full lighting tick for 1k to 1M segments, against a per-segment loop of the same rules.

A tick is what the daemon does every `tick_s`: `Engine.step` (schedule with steps and calendar
exceptions, traffic classes, presence, fail-safe, overrides, limits, fades within the ramp
limit) and the command filter (dead-band, on/off flips, refresh). The engine is mid-night and
busy: walkers on 5 % of the segments, overrides on 1 %, stale sensors on 2 %, counters on a
third of the segments feeding traffic classes, two policy groups. Timed as the mean of 60
consecutive ticks one second apart, which includes the traffic window moving on (a bucket
expires every minute and the classes it fed are selected again). `--smoke` is the CI run: one
small size, one round of a few ticks, to show that the benchmark still runs (not a measure).

The loop works from the same state and is checked equal to the engine (levels, reasons,
ramps, commands due) on a sample before anything is timed. Both run in this process, so the
ratio holds on a noisy shared machine. The last line printed is the JSON summary.
"""

import argparse
import json
import math
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from baselines.controller_loop import Snapshot, loop_tick

from controllers.commands import CommandFilter
from controllers.engine import Engine, Step
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy
from controllers.topology import Topology

SEGMENTS_PER_STREET = 20
LOOP_SAMPLE = 20_000  # the loop is timed on this many segments and scaled, or it takes minutes
TICKS = 60
SMOKE = {"sizes": "1000", "repeats": 1, "ticks": 3}
POLICY = {
    "schedule": {
        "night_level": "P5",
        "steps": [{"at": "22:30", "level": "P6"}, {"at": "05:30", "level": 0.3}],
        "exceptions": [{"name": "fridays", "weekdays": ["fri"], "night_level": "P4"}],
    },
    "traffic": {"enabled": True, "window_s": "15m", "classes": {"P3": 60, "P4": 20, "P6": 0}},
    "presence": {
        "level": "rated",
        "hold_s": "2m",
        "lookahead_segments": 3,
        "fastest_walker_mps": 2.0,
    },
    "limits": {"floor": "P6", "max": 0.9, "max_ramp_per_s": 0.5},
    "failsafe": {"stale_after_s": 600, "level": "rated"},
    "groups": {
        "district": {
            "streets": [f"st{i}" for i in range(0, 10_000, 2)],
            "presence": {"hold_s": "3m"},
            "limits": {"floor": 0.25},
        }
    },
}


def street_topology(size: int) -> Topology:
    """`size` segments in streets of 20, counters on every third, built as arrays."""
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
        lux_at_full_lx=np.where(index % 7 == 0, 20.0, 10.0),
        rated_class=np.where(index % 5 == 0, 2, 3).astype(np.int64),
        next_index=next_index.astype(np.int64),
        prev_index=prev_index.astype(np.int64),
        counters=np.flatnonzero(index % 3 == 0),
    )


def busy_engine(size: int, now_s: float, rng: np.random.Generator) -> tuple[Engine, CommandFilter]:
    """An engine mid-night, and the command filter after a first full round of commands."""
    clock = AstronomicalClock(47.47, -0.55, "Europe/Paris")
    engine = Engine(street_topology(size), Policy.model_validate(POLICY), clock)
    engine.register_sensors(np.flatnonzero(rng.random(size) < 0.3), now_s - 900)
    engine.seen(np.flatnonzero(rng.random(size) < 0.28), now_s - 10)
    counters = engine.topology.counters
    for ago_s in range(900, 0, -60):  # counts in every bucket of the window: one leaves a minute
        busy = counters[rng.random(len(counters)) < 0.2]
        counts = rng.integers(1, 8, len(busy))
        engine.detect(busy, np.zeros(len(busy), dtype=np.int64), now_s - ago_s, counts)
    walkers = np.flatnonzero(rng.random(size) < 0.05)
    engine.detect(walkers, rng.integers(-1, 2, walkers.size), now_s - rng.uniform(0, 200))
    engine.set_override(np.flatnonzero(rng.random(size) < 0.01), 0.8, now_s + 600)
    commands = CommandFilter(size)
    rules = engine.policy.commands
    commands.due(engine.step(now_s - 1).level, now_s - 1, rules.deadband, rules.refresh_s)
    return engine, commands


def tick(engine: Engine, commands: CommandFilter, now_s: float) -> tuple[Step, np.ndarray]:
    """What the daemon does every tick, minus the publishing: the step, the commands due and
    their reasons."""
    rules = engine.policy.commands
    step = engine.step(now_s)
    due = commands.due(step.level, now_s, rules.deadband, rules.refresh_s)
    step.reason_of(due)
    return step, due


def check_equal(size: int, now_s: float) -> None:
    """The loop and the engine agree on a sample of the same state."""
    engine, commands = busy_engine(size, now_s, np.random.default_rng(size))
    sample = range(min(size, LOOP_SAMPLE))
    expected = loop_tick(Snapshot.of(engine, commands, now_s), now_s, sample)
    step, due = tick(engine, commands, now_s)
    part = slice(0, len(sample))
    assert np.allclose(step.level[part], [e.level for e in expected], atol=1e-6), "levels differ"
    assert (step.reason[part] == [e.reason for e in expected]).all(), "reasons differ"
    assert np.allclose(step.ramp_s[part], [e.ramp_s for e in expected], atol=1e-5), "ramps differ"
    chosen = {i for i in due.tolist() if i < len(sample)}
    assert chosen == {i for i in sample if expected[i].due}, "commands due differ"


def mean_tick_s(
    engine: Engine, commands: CommandFilter, start_s: float, ticks: int
) -> tuple[float, float]:
    """(mean, worst) seconds per tick over `ticks` consecutive ticks one second apart."""
    times = []
    for k in range(ticks):
        begin = time.perf_counter()
        tick(engine, commands, start_s + k)
        times.append(time.perf_counter() - begin)
    return sum(times) / len(times), max(times)


def measure(size: int, now_s: float, repeats: int, ticks: int) -> dict[str, float]:
    check_equal(size, now_s)
    best, worst = math.inf, 0.0
    for attempt in range(repeats):
        engine, commands = busy_engine(size, now_s, np.random.default_rng(size + attempt))
        mean_s, max_s = mean_tick_s(engine, commands, now_s, ticks)
        best, worst = min(best, mean_s), max(worst, max_s)
    engine, commands = busy_engine(size, now_s, np.random.default_rng(size))
    sample = range(min(size, LOOP_SAMPLE))
    snapshot = Snapshot.of(engine, commands, now_s)
    loop_s = min(_timed(lambda: loop_tick(snapshot, now_s, sample)) for _ in range(2))
    print(
        f"{size:>9} segments: {best / size * 1e9:>7.2f} ns/segment per tick "
        f"(worst tick {worst * 1e3:.2f} ms), loop {loop_s / len(sample) * 1e9:.0f} ns/segment",
        flush=True,
    )
    return {
        "segments": size,
        "ns_per_segment": round(best / size * 1e9, 2),
        "speedup_vs_loop": round(loop_s / len(sample) * size / best, 1),
    }


def _timed(run: Callable[[], object]) -> float:
    begin = time.perf_counter()
    run()
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=TICKS, help="consecutive ticks timed")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    now_s = datetime(2026, 11, 24, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    results = [measure(int(s), now_s, args.repeats, args.ticks) for s in args.sizes.split(",")]
    print(json.dumps({"bench": "controller", "results": results}))


if __name__ == "__main__":
    main()
