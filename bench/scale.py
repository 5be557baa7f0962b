"""Ingest workers on one shared subscription: the same backlog drained by 1, 2 and 3 workers.

N native QoS 1 messages are queued in mosquitto for a shared group (`$share/{group}/...`)
whose members are `luciole run --role ingest --worker K` sessions, then the workers start
together; the clock runs from when the last of them has subscribed to the last reading in
any worker's spool, and the rate counts what was stored in that time: the drain by all of
them, without the processes' start-up (their imports take a second or two, and three of them
starting on two cores would hide the drain behind them). Beside them, the broker's own
limit: a bare subscriber that only acknowledges the same backlog (mosquitto_sub, a C client;
paho's when it is missing, slower than the broker). Each rate is the median of `--rounds`
rounds. The last line is the JSON summary; `lost` counts messages queued but in no worker's spool.
`--smoke` is the CI run: a small backlog, one round, 1 and 2 workers (not a measure).
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from district import cpu_s
from ingest import (
    RAW_TOPIC,
    drain_raw,
    queue_messages,
    register_session,
    start_mosquitto,
    stop,
    until_connected,
)

SMOKE = {"messages": 300, "rounds": 1, "workers": [1, 2]}
STALL_S = 30.0  # no new row for this long: the drain is stuck, the rest counts as lost


def write_site(folder: Path, port: int, site_id: str, spool_dir: Path) -> Path:
    """A site of its own per worker count: its own topics, its own shared group, its spools
    in `spool_dir`."""
    folder.mkdir(parents=True, exist_ok=True)
    spool_dir.mkdir(parents=True, exist_ok=True)
    (folder / "site.yaml").write_text(
        f"site: {{id: {site_id}, latitude: 0, longitude: 0}}\n"
        f"spool_path: {spool_dir / 'luciole.db'}\n"
        f"broker: {{url: 'mqtt://127.0.0.1:{port}', client_id: {site_id}, "
        f"share_group: {site_id}}}\n"
        "segments: [{id: s1, street: a, order: 1, length_m: 30, rated_power_w: 40}]\n"
        "devices: {meter-1: {kind: water, segment: s1}}\n"
    )
    (folder / "policy.yaml").write_text("{}\n")
    return folder / "site.yaml"


def start_workers(
    site: Path, count: int, log_level: str = "warning"
) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "luciole.main",
                "run",
                "--config",
                str(site),
                "--role",
                "ingest",
                "--worker",
                str(number),
                "--log-level",
                log_level,
            ],
            stderr=subprocess.PIPE if log_level == "info" else None,
        )
        for number in range(1, count + 1)
    ]


def spools(site: Path, count: int) -> list[Path]:
    spool_dir = Path(yaml.safe_load(site.read_text())["spool_path"]).parent
    return [spool_dir / f"luciole-ingest-{n}.db" for n in range(1, count + 1)]


def stored_rows(paths: list[Path]) -> int:
    """Water readings in the workers' spools, read-only, without disturbing their writes."""
    total = 0
    for path in paths:
        if not path.exists():
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                total += db.execute(
                    "SELECT COUNT(*) FROM readings WHERE kind = 'water'"
                ).fetchone()[0]
        except sqlite3.OperationalError:
            pass  # not created yet
    return total


@dataclass(frozen=True)
class Drain:
    """One drain by the workers: what they stored while all were up, and at what cost."""

    shared: int  # readings stored once every worker had connected
    seconds: float  # from then to the last one
    stored: int  # readings stored in all
    workers_cpu_pct: float  # the workers' CPU over those seconds, in % of one core
    broker_cpu_pct: float  # mosquitto's


def drain_workers(site: Path, workers: int, count: int, broker_pid: int) -> Drain:
    """Start the workers on the queued backlog and time it. A worker that connects first
    drains alone until the others are up: that part is start-up, not sharing, and is left
    out of the rate."""
    for path in spools(site, workers):
        path.unlink(missing_ok=True)
    processes = start_workers(site, workers, log_level="info")
    until_all_connected(processes)
    paths = spools(site, workers)
    cpu_before_s = [cpu_s(p.pid) for p in processes], cpu_s(broker_pid)
    start_s, at_start = time.perf_counter(), stored_rows(paths)
    rows, last_s = at_start, start_s
    while rows < count and time.perf_counter() - last_s < STALL_S:
        time.sleep(0.005)  # polling the spools from outside the workers
        now_rows = stored_rows(paths)
        if now_rows != rows:
            rows, last_s = now_rows, time.perf_counter()
    workers_cpu_s = sum(cpu_s(p.pid) - b for p, b in zip(processes, cpu_before_s[0], strict=True))
    broker_cpu_s = cpu_s(broker_pid) - cpu_before_s[1]
    elapsed_s = max(time.perf_counter() - start_s, 0.005)
    for process in processes:
        stop(process)
    return Drain(
        count - at_start,
        max(last_s - start_s, 0.005),
        stored_rows(paths),
        round(100 * workers_cpu_s / elapsed_s),
        round(100 * broker_cpu_s / elapsed_s),
    )


def until_all_connected(processes: list[subprocess.Popen[bytes]]) -> None:
    for number, process in enumerate(processes, start=1):
        until_connected(process, f"ingest worker {number}")


def bare_subscriber() -> str | None:
    """mosquitto_sub (Debian's mosquitto-clients): a C subscriber, so that the broker's limit
    is not paho's, which a Python callback per message holds below the workers' rate."""
    return shutil.which("mosquitto_sub")


def register_bare(port: int) -> None:
    """The bare subscriber's persistent session, subscribed, so the broker queues for it."""
    binary = bare_subscriber()
    if binary is None:
        register_session(port, "bench-raw")
        return
    command = [binary, "-p", str(port), "-t", RAW_TOPIC, "-q", "1", "-c", "-i", "bench-c", "-E"]
    subprocess.run(command, check=True, timeout=60)


def drain_bare(port: int, count: int) -> float:
    """Seconds for the bare subscriber to take the backlog: mosquitto_sub from its start
    (a C program connects in milliseconds), or bench/ingest.py's paho subscriber."""
    binary = bare_subscriber()
    if binary is not None:
        command = [binary, "-p", str(port), "-t", RAW_TOPIC, "-q", "1", "-c", "-i", "bench-c"]
        start_s = time.perf_counter()
        subprocess.run(
            [*command, "-C", str(count)], check=True, timeout=600, stdout=subprocess.DEVNULL
        )
        return time.perf_counter() - start_s
    return drain_raw(port, count)


def register_workers(site: Path, workers: int) -> None:
    """Start the workers once and stop them: their sessions join the group, so the broker
    queues the backlog for them."""
    processes = start_workers(site, workers, log_level="info")
    until_all_connected(processes)
    for process in processes:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--spool-dir",
        type=Path,
        help="where the workers' spools go (default: beside the sites, on this disk); "
        "/dev/shm takes the disk's fsync out of the measure",
    )
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    count = args.messages
    rates: dict[int, list[float]] = {n: [] for n in args.workers}
    cpu: dict[int, list[tuple[float, float]]] = {n: [] for n in args.workers}
    bare: list[float] = []
    lost = 0
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        broker, port = start_mosquitto(workdir)
        spool_root = Path(tempfile.mkdtemp(dir=args.spool_dir)) if args.spool_dir else workdir
        try:
            register_bare(port)
            sites = {
                n: write_site(workdir / f"k{n}", port, f"scale-k{n}", spool_root / f"k{n}")
                for n in args.workers
            }
            for n, site in sites.items():
                register_workers(site, n)
            for round_no in range(args.rounds):
                queue_messages(port, count, RAW_TOPIC, round_no * count)
                bare.append(count / drain_bare(port, count))
                for n, site in sites.items():
                    topic = f"luciole/scale-k{n}/sensor/water/meter-1"
                    queue_messages(port, count, topic, round_no * count)
                    drain = drain_workers(site, n, count, broker.pid)
                    rates[n].append(drain.shared / drain.seconds)
                    cpu[n].append((drain.workers_cpu_pct, drain.broker_cpu_pct))
                    lost += count - drain.stored
                line = ", ".join(
                    f"{n} worker(s) {rates[n][-1]:,.0f} (workers {cpu[n][-1][0]:.0f} % CPU, "
                    f"broker {cpu[n][-1][1]:.0f} %)"
                    for n in args.workers
                )
                print(f"round {round_no + 1}: bare {bare[-1]:,.0f} msg/s; {line}", file=sys.stderr)
        finally:
            broker.terminate()
            broker.wait(timeout=10)
            shutil.rmtree(workdir, ignore_errors=True)
            if args.spool_dir:
                shutil.rmtree(spool_root, ignore_errors=True)
    medians = [round(statistics.median(rates[n])) for n in args.workers]
    limit = round(statistics.median(bare))
    print(
        json.dumps(
            {
                "bench": "scale",
                "messages": count,
                "workers": args.workers,
                "msgs_per_s": medians,
                "broker_limit_msgs_per_s": limit,
                "broker_limit_by": "mosquitto_sub" if bare_subscriber() else "paho",
                "speedup_vs_one": [round(m / medians[0], 2) if medians[0] else 0 for m in medians],
                "workers_cpu_pct": [statistics.median(c[0] for c in cpu[n]) for n in args.workers],
                "broker_cpu_pct": [statistics.median(c[1] for c in cpu[n]) for n in args.workers],
                "cores": _cores(),
                "spool_dir": str(args.spool_dir) if args.spool_dir else "disk",
                "lost": lost,
            }
        )
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
