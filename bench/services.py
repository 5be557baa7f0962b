"""One analytics round of the city services for 100,000 water meters and 50,000 bins, against
a per-device loop of the same rules.

A round is a quarter-hour report round: one new reading of every meter and every bin, fed to
`step_water` and `step_bins`, then what the daemon does after them (gateway/services/city.py):
one `evaluate_water` and one `evaluate_bins`, and the bins' `forecast_full_s` for the
collection list. The state is warm first, on the synthetic city of bench/loads/services_city.py:
a week of hourly bin readings, then two days of every device every quarter of an hour. Then
`--steps` rounds are timed one by one from 06:00 on a Wednesday (trucks out, households up),
each round's batches made before its timer starts. One round in four completes an hour for
every meter at once (all of a quarter's readings fall on the same side of the hour's boundary)
and runs the hourly rules: a round's time is the mean over the hour of the median of each of its
four rounds, and the hour's round and the others are reported apart (`ms_hour_step`,
`ms_quarter_step`).

The loop is the references (`ReferenceWater`, `ReferenceBins`: plain Python per device) on a
smaller city of the same kind (`--loop-meters`, `--loop-bins`): warming 150,000 Python objects
up over two days of readings would take many minutes, and the loop's cost is per reading, so
its time per device is scaled linearly to the full size. The vectorised rules run on that same
small city, on the same readings, checked round after round to give the same changes, events
and forecasts as the loop, and are timed there too: `speedup_vs_loop` is the full-size
vectorised round per device against the loop per device, `speedup_same_size` the two on the
small city (the ratio without any large-N effect). Everything runs in this process, so the
ratios hold on a noisy shared machine. `--smoke` is CI's run: tiny sizes, a short warm-up and
a few rounds, to show that the benchmark still runs (not a measure). The last line printed is
the JSON summary.
"""

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from loads.services_city import PARTS, PER_HOUR, City, Loop, Outcome, Round, Vectorised, schedule
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controllers.services.changes import Change, Event

SMOKE = {
    "meters": 2000,
    "bins": 1000,
    "loop_meters": 300,
    "loop_bins": 150,
    "steps": 3,
    "days": 1.0,
    "history_days": 2.0,
}


def _close(a: float, b: float, abs_tol: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=abs_tol)


def _same_details(got: dict[str, float], want: dict[str, float]) -> bool:
    return got.keys() == want.keys() and all(_close(got[k], want[k], 1e-9) for k in got)


def same_changes(what: str, got: Sequence[Change], want: Sequence[Change]) -> None:
    keys = [(c.kind, c.index, c.active) for c in got]
    assert keys == [(c.kind, c.index, c.active) for c in want], f"{what}: not the same changes"
    for g, w in zip(got, want, strict=True):
        times = _close(g.since_s, w.since_s, 1e-3) and _close(g.at_s, w.at_s, 1e-3)
        assert times and _same_details(g.details, w.details), f"{what}: {g} != {w}"


def same_events(what: str, got: Sequence[Event], want: Sequence[Event]) -> None:
    keys = [(e.kind, e.index) for e in got]
    assert keys == [(e.kind, e.index) for e in want], f"{what}: not the same events"
    for g, w in zip(got, want, strict=True):
        same = _close(g.at_s, w.at_s, 1e-3) and _same_details(g.details, w.details)
        assert same, f"{what}: {g} != {w}"


def check_same(got: Outcome, want: Outcome) -> None:
    """The vectorised rules and the loop agree (the property tests' tolerances)."""
    for name, (got_changes, got_events), (want_changes, want_events) in (
        ("water", got.water, want.water),
        ("bins", got.bins, want.bins),
    ):
        same_changes(f"step {name}", got_changes, want_changes)
        same_events(f"step {name}", got_events, want_events)
    same_changes("evaluate_water", got.evaluated[0], want.evaluated[0])
    same_changes("evaluate_bins", got.evaluated[1], want.evaluated[1])
    np.testing.assert_allclose(got.forecast_s, want.forecast_s, rtol=0, atol=1.0)


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar on a terminal's stderr, a line at the end otherwise; yields `advance`."""
    console = Console(stderr=True)
    began = time.perf_counter()
    if console.is_terminal:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)
    else:
        yield lambda: None
    print(f"  {label}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)


def counted(outcome: Outcome) -> int:
    """How many changes and events a round produced."""
    water, bins = outcome.water, outcome.bins
    lists = (*water, *bins, *outcome.evaluated)
    return sum(len(items) for items in lists)


@dataclass
class Timings:
    """Seconds of each timed round (in order: the first completes an hour), and of its PARTS."""

    rounds: list[float]
    parts: list[list[float]]

    def per_round_s(self, samples: list[float] | None = None) -> float:
        """The mean over an hour of rounds of each position's median. Every meter completes an
        hour in the same round, one in four (a quarter's readings all fall after the hour's
        boundary or all before it), and that round does the hourly rules: a median of all the
        rounds would only see the three others."""
        samples = self.rounds if samples is None else samples
        positions = [samples[k::PER_HOUR] for k in range(PER_HOUR)]
        return statistics.fmean(statistics.median(p) for p in positions if p)

    def part_s(self, k: int) -> float:
        return self.per_round_s([seconds[k] for seconds in self.parts])

    def hour_round_s(self) -> float:
        """The median of the rounds that complete an hour."""
        return statistics.median(self.rounds[::PER_HOUR])

    def quarter_round_s(self) -> float:
        """The median of the others (the first when there is no other)."""
        others = [s for k, s in enumerate(self.rounds) if k % PER_HOUR] or self.rounds
        return statistics.median(others)


@dataclass
class Full:
    timings: Timings
    produced_warm_up: int
    produced_per_round: float
    leaks_active: int
    forecasts: int


def run_full(args: argparse.Namespace, warm: list[Round], timed: list[Round]) -> Full:
    """The vectorised rules at full size: warm, then timed round by round."""
    city = City(args.meters, args.bins, seed=1, events_s=(warm[0].start_s, timed[-1].now_s))
    rules = Vectorised(city)
    produced = 0
    with progress(f"warm-up, {args.meters} meters + {args.bins} bins", len(warm)) as advance:
        for round_ in warm:
            produced += counted(rules.round(city.batches(round_))[0])
            advance()
    gc.collect()
    timings, per_round = Timings([], []), []
    with progress("timed rounds, vectorised", len(timed)) as advance:
        for round_ in timed:
            batches = city.batches(round_)  # not timed
            began = time.perf_counter()
            outcome, seconds = rules.round(batches)
            timings.rounds.append(time.perf_counter() - began)
            timings.parts.append(seconds)
            per_round.append(counted(outcome))
            advance()
    return Full(
        timings,
        produced,
        statistics.fmean(per_round),
        int(rules.water.leak_active.sum()),
        int(np.isfinite(outcome.forecast_s).sum()),
    )


def run_loop(
    args: argparse.Namespace, warm: list[Round], timed: list[Round]
) -> tuple[Timings, Timings]:
    """The loop and the vectorised rules on the same small city, checked equal every round:
    (loop, vectorised)."""
    city = City(
        args.loop_meters, args.loop_bins, seed=2, events_s=(warm[0].start_s, timed[-1].now_s)
    )
    rules = Vectorised(city)
    loop = Loop(rules)
    label = f"warm-up, loop and vectorised, {args.loop_meters} meters + {args.loop_bins} bins"
    with progress(label, len(warm)) as advance:
        for round_ in warm:
            batches = city.batches(round_)
            check_same(rules.round(batches)[0], loop.round(batches)[0])
            advance()
    gc.collect()
    loop_timings, vector_timings = Timings([], []), Timings([], [])
    with progress("timed rounds, loop and vectorised", len(timed)) as advance:
        for round_ in timed:
            batches = city.batches(round_)
            outcomes = []
            for runner, timings in ((rules, vector_timings), (loop, loop_timings)):
                began = time.perf_counter()
                outcome, seconds = runner.round(batches)
                timings.rounds.append(time.perf_counter() - began)
                timings.parts.append(seconds)
                outcomes.append(outcome)
            check_same(*outcomes)
            advance()
    return loop_timings, vector_timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--bins", type=int, default=50_000)
    parser.add_argument("--loop-meters", type=int, default=5_000, help="the loop's city")
    parser.add_argument("--loop-bins", type=int, default=2_500)
    parser.add_argument("--steps", type=int, default=20, help="rounds timed (the median kept)")
    parser.add_argument("--days", type=float, default=2.0, help="warm-up, every 15 min")
    parser.add_argument("--history-days", type=float, default=8.0, help="hourly bins before")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    warm, timed = schedule(args.history_days, args.days, args.steps)
    full = run_full(args, warm, timed)
    loop, small = run_loop(args, warm, timed)
    devices = args.meters + args.bins
    loop_devices = args.loop_meters + args.loop_bins
    step_s, loop_s = full.timings.per_round_s(), loop.per_round_s()
    loop_per_device_s = loop_s / loop_devices
    vector_per_device_s = step_s / devices
    parts_ms = {part: round(full.timings.part_s(k) * 1e3, 2) for k, part in enumerate(PARTS)}
    loop_parts_ms = {part: round(loop.part_s(k) * 1e3, 2) for k, part in enumerate(PARTS)}
    # Each part against the loop's, per device of the kind it works on.
    scale = {
        "step_water": args.meters / args.loop_meters,
        "step_bins": args.bins / args.loop_bins,
        "evaluate": devices / loop_devices,
        "forecast": args.bins / args.loop_bins,
    }
    part_speedups = {
        part: round(loop.part_s(k) / full.timings.part_s(k) * scale[part], 1)
        for k, part in enumerate(PARTS)
    }
    hour_ms, quarter_ms = full.timings.hour_round_s() * 1e3, full.timings.quarter_round_s() * 1e3
    print(
        f"{args.meters} meters + {args.bins} bins: {step_s * 1e3:.1f} ms a round "
        f"({vector_per_device_s * 1e9:.0f} ns a device; {hour_ms:.1f} ms the round that "
        f"completes an hour, {quarter_ms:.1f} ms the others), in ms: {parts_ms}"
    )
    print(
        f"loop on {args.loop_meters} meters + {args.loop_bins} bins: {loop_s * 1e3:.1f} ms a "
        f"round ({loop_per_device_s * 1e6:.1f} µs a device), in ms: {loop_parts_ms}; "
        f"vectorised on the same: {small.per_round_s() * 1e3:.2f} ms"
    )
    print(f"speedup per part, per device: {part_speedups}")
    print(
        f"{full.produced_per_round:.0f} changes and events a round, {full.produced_warm_up} in "
        f"the warm-up; {full.leaks_active} leaks active, {full.forecasts} bins with a "
        f"forecast; the loop and the vectorised rules agreed on every round"
    )
    summary = {
        "bench": "services",
        "meters": args.meters,
        "bins": args.bins,
        "ms_per_step": round(step_s * 1e3, 2),
        "speedup_vs_loop": round(loop_per_device_s / vector_per_device_s, 1),
        "speedup_same_size": round(loop_s / small.per_round_s(), 1),
        "loop_devices_timed": loop_devices,
        "loop_ms_per_step": round(loop_s * 1e3, 2),
        "ms_hour_step": round(hour_ms, 2),
        "ms_quarter_step": round(quarter_ms, 2),
        "ns_per_device": round(vector_per_device_s * 1e9, 1),
        "loop_ns_per_device": round(loop_per_device_s * 1e9, 1),
        "parts_ms": parts_ms,
        "speedup_by_part": part_speedups,
        "steps_timed": args.steps,
        "warm_up_rounds": len(warm),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
