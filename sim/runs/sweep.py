"""A sweep's runs as independent Dask tasks: one offline night each, on a local cluster of
this machine's cores or on the scheduler at a given address, collected as they finish.

`night_task` is what a worker runs: a top-level function of plain arguments (paths, a dict,
an int) returning a plain dict, so that any worker with luciole installed can run it, by
reference, without the caller's objects. It never raises: a run that fails comes back with
its error, and the other runs go on. Workers read the scenario and its files themselves, so
on a remote cluster the paths must mean the same files there (a shared checkout or volume).

One thread per worker process: a night is pure Python and numpy on small arrays, so threads
would only contend for the GIL, and a process per core gives each run a core of its own.
"""

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import Client, Future, LocalCluster, as_completed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controllers.settings import Policy
from sim.report.sweep_table import SweepRow
from sim.runs.run import load, run_offline, summary_of
from sim.runs.sweep_plan import Task

# Seconds to wait for a given scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10
OnRow = Callable[[SweepRow], None]


def night_task(scenario: str, policy_data: dict[str, Any], label: str, seed: int) -> dict[str, Any]:
    """One offline night: {"summary": ...} or {"error": ..., "traceback": ...}, and run_s."""
    began_s = time.perf_counter()
    try:
        loaded = load(Path(scenario))
        policy = Policy.model_validate(policy_data)
        result = run_offline(loaded.world, policy, (loaded.start_s, loaded.end_s), seed)
        outcome: dict[str, Any] = {"summary": summary_of(result, loaded, label, seed)}
    except Exception as error:  # a failed run is a row, never a stopped sweep
        outcome = {"error": _error_text(error), "traceback": traceback.format_exc()}
    outcome["run_s"] = time.perf_counter() - began_s
    return outcome


def _error_text(error: BaseException) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def row_of(task: Task, outcome: dict[str, Any]) -> SweepRow:
    """A task and what its night gave, as a row of the sweep's table."""
    return SweepRow(
        task.index,
        task.scenario,
        task.policy,
        task.grid,
        task.seed,
        outcome.get("summary"),
        outcome.get("error"),
        float(outcome.get("run_s", 0.0)),
    )


def run_serial(tasks: Sequence[Task], on_row: OnRow | None = None) -> list[SweepRow]:
    """Every task in this process, one after the other (the benchmark's baseline)."""
    rows = []
    for task in tasks:
        rows.append(
            row_of(task, night_task(task.scenario, task.policy_data, task.label, task.seed))
        )
        if on_row is not None:
            on_row(rows[-1])
    return rows


def run_on(client: Client, tasks: Sequence[Task], on_row: OnRow | None = None) -> list[SweepRow]:
    """Every task on the client's cluster; rows come back as runs finish (`on_row` sees each).
    A task lost with its worker is a failed row too."""
    task_of: dict[Future[dict[str, Any]], Task] = {}
    for task in tasks:
        # pure=False: two equal tasks are still two runs (a key per task, not per argument).
        future = client.submit(
            night_task, task.scenario, task.policy_data, task.label, task.seed, pure=False
        )
        task_of[future] = task
    rows = []
    # distributed's as_completed, Client and LocalCluster have no annotations (it ships
    # py.typed nonetheless): hence the ignores on their calls below.
    for future in as_completed(list(task_of)):  # type: ignore[no-untyped-call]
        task = task_of[future]
        try:
            outcome = future.result()
        except Exception as error:  # a worker died, or the task was lost
            outcome = {"error": _error_text(error)}
        rows.append(row_of(task, outcome))
        if on_row is not None:
            on_row(rows[-1])
    return rows


@contextmanager
def dask_client(scheduler: str | None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a local cluster of `workers` processes
    (default: the machine's cores), closed when done."""
    if scheduler is not None:
        remote = Client(scheduler, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
        with remote:
            yield remote
        return
    # No dashboard: its port (8787) may be taken by another cluster on a shared machine, and
    # it needs bokeh, which the sim extra does not bring. Logs below ERROR would only be the
    # cluster's start and stop chatter on the user's terminal.
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


@contextmanager
def sweep_progress(total: int) -> Iterator[OnRow]:
    """A rich bar of runs done and failed on a terminal (stderr); elsewhere, nothing."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda row: None
        return
    columns = (
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("sweep", total=total, failed=0)
        failed = 0

        def advance(row: SweepRow) -> None:
            nonlocal failed
            failed += not row.ok
            bar.update(task, advance=1, failed=failed)

        yield advance
