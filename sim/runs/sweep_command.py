"""The body of `luciole sim sweep`: plan and check every run, run them as Dask tasks, write
`sweep.csv`, `sweep.json` and `sweep.png`, print the Pareto front. `luciole.main` parses the
arguments and imports this inside the command (the daemon never imports the simulator)."""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from controllers.settings import ConfigError
from sim.report.sweep_plot import plot_sweep
from sim.report.sweep_table import SweepRow, configs, front_table, fronts, write_csv, write_json
from sim.runs.sweep import dask_client, run_on, sweep_progress
from sim.runs.sweep_plan import Plan, plan

EXIT_OK, EXIT_FAILED_RUNS, EXIT_INVALID = 0, 1, 2


@dataclass(frozen=True)
class SweepPaths:
    csv: Path
    json: Path
    png: Path


def sim_sweep(args: argparse.Namespace) -> int:
    """Every (scenario, policy, grid point, seed) offline, as Dask tasks; exit 0 when every run
    succeeded, 1 when some failed (their rows say why), 2 when an input or the cluster is bad."""
    try:
        _check_workers(args.workers, args.scheduler)
        sweep = plan(args.scenario, args.policy, args.grid or [], args.seeds)
    except (ConfigError, ValueError, OSError) as error:
        print(f"luciole sim sweep: {error}", file=sys.stderr)
        return EXIT_INVALID
    # No more local workers than runs: a process per idle core would only cost start-up time.
    workers = args.workers or min(len(sweep.tasks), os.cpu_count() or 1)
    where = args.scheduler or f"a local cluster of {workers} worker process(es)"
    print(f"{len(sweep.tasks)} run(s) on {where}", file=sys.stderr)
    began_s = time.perf_counter()
    try:
        with (
            dask_client(args.scheduler, workers) as client,
            sweep_progress(len(sweep.tasks)) as bar,
        ):
            rows = run_on(client, sweep.tasks, bar)
    except OSError as error:  # TimeoutError included: the scheduler did not answer
        target = args.scheduler or "the local cluster"
        print(f"luciole sim sweep: cannot reach {target}: {error}", file=sys.stderr)
        return EXIT_INVALID
    elapsed_s = time.perf_counter() - began_s
    paths = write_sweep(args.out, rows, sweep)
    _report(rows, sweep, paths, elapsed_s)
    return EXIT_FAILED_RUNS if any(not r.ok for r in rows) else EXIT_OK


def _check_workers(workers: int | None, scheduler: str | None) -> None:
    if workers is not None and scheduler is not None:
        raise ValueError("--workers sizes the local cluster; a --scheduler has its own workers")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: at least one worker")


def write_sweep(out_dir: Path, rows: Sequence[SweepRow], sweep: Plan) -> SweepPaths:
    """sweep.csv, sweep.json and sweep.png in `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = SweepPaths(out_dir / "sweep.csv", out_dir / "sweep.json", out_dir / "sweep.png")
    found = configs(rows)
    front = fronts(found)
    write_csv(paths.csv, rows, sweep.keys)
    write_json(paths.json, rows, front)
    plot_sweep(paths.png, rows, found, front, sweep.keys)
    return paths


def _report(rows: Sequence[SweepRow], sweep: Plan, paths: SweepPaths, elapsed_s: float) -> None:
    failed = sorted((r for r in rows if not r.ok), key=lambda r: r.index)
    for row in failed:
        point = " ".join(f"{k}={v}" for k, v in row.grid)
        print(
            f"run {row.index + 1} failed ({row.scenario}, {row.policy} {point}, seed {row.seed}):"
            f" {row.error}",
            file=sys.stderr,
        )
    front = fronts(configs(rows))
    if front:
        print("Pareto front (energy against comfort, seeds averaged):")
        print(front_table(front, sweep.keys, len({r.policy for r in rows})))
    print(f"{len(rows)} run(s), {len(failed)} failed, in {elapsed_s:.1f} s")
    print(f"Written: {paths.csv}, {paths.json} and {paths.png}")
