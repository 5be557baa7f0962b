"""A policy sweep in one process against the same runs on Dask's local cluster.

The same `--runs` offline nights (a grid of `presence.hold_s` values × 2 seeds on a one-street
Oslo midsummer night of about five hours, each run a few seconds) are run twice: one after
the other in this process (`sim.runs.sweep.run_serial`), then as tasks on a local cluster of
one single-threaded worker process per core (`sim.runs.sweep.run_on`, what `luciole sim
sweep` does). The cluster's time includes starting and closing it, as a user waits for both.
Each run's summary must be the same both ways (`identical`): a night is deterministic for a
seed wherever it runs. The speed-up is bounded by the core count (printed beside it) and by
the runs per core: 8 runs on 2 cores are at best 2×. `--smoke` is the CI run: 2 runs of a
shorter night, to show that the benchmark still runs (not a measure). The last line printed is
the JSON summary.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sim.report.sweep_table import SweepRow
from sim.runs.sweep import dask_client, run_on, run_serial
from sim.runs.sweep_plan import plan

SMOKE = {"runs": 2, "latitude": 64.4}
HOLDS_S = (20, 40, 60, 80, 100, 120, 140, 160)


def scenario_text(latitude: float) -> str:
    """One street with two counters; the further north, the shorter the midsummer night."""
    rates = ", ".join(["40"] * 24)
    return (
        "name: bench-sweep\nnight: {date: 2025-06-20, margin_s: 0}\n"
        f"place: {{id: bench, latitude: {latitude}, longitude: 10.75, timezone: Europe/Oslo}}\n"
        f"streets:\n  - {{id: a, start: [{latitude}, 10.7500], end: [{latitude}, 10.7520],"
        f" segment_length_m: 30, rated_power_w: 40, rate_per_h: [{rates}]}}\n"
        "counters:\n  - {id: c1, segment: a-01}\n  - {id: c3, segment: a-03}\n"
    )


def identical(serial: list[SweepRow], cluster: list[SweepRow]) -> bool:
    """Every run succeeded both ways with the same summary."""
    by_index = {r.index: r.summary for r in cluster}
    return all(r.summary is not None and r.summary == by_index.get(r.index) for r in serial)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="an even number, at most 16")
    parser.add_argument("--latitude", type=float, default=59.91, help="of the street (° N)")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    holds = ",".join(f"{h}s" for h in HOLDS_S[: max(args.runs // 2, 1)])
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        scenario, policy = Path(folder) / "scenario.yaml", Path(folder) / "policy.yaml"
        scenario.write_text(scenario_text(args.latitude), encoding="utf-8")
        policy.write_text("presence: {hold_s: 80s}\n", encoding="utf-8")
        tasks = plan([scenario], [policy], [f"presence.hold_s={holds}"], "1-2").tasks
        began_s = time.perf_counter()
        serial = run_serial(tasks)
        serial_s = time.perf_counter() - began_s
        began_s = time.perf_counter()
        with dask_client(None, min(cores, len(tasks))) as client:
            started_s = time.perf_counter() - began_s
            cluster = run_on(client, tasks)
        cluster_s = time.perf_counter() - began_s
    detail = {
        "bench": "sweep-detail",
        "run_s_serial": [round(r.run_s, 2) for r in serial],
        "run_s_cluster": [round(r.run_s, 2) for r in sorted(cluster, key=lambda r: r.index)],
        "cluster_start_s": round(started_s, 2),
        "errors": [r.error for r in [*serial, *cluster] if r.error],
    }
    print(json.dumps(detail))
    summary = {
        "bench": "sweep",
        "runs": len(tasks),
        "cores": cores,
        "serial_s": round(serial_s, 2),
        "cluster_s": round(cluster_s, 2),
        "speedup": round(serial_s / cluster_s, 2),
        "identical": identical(serial, cluster),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
