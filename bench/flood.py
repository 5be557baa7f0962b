"""Presence → lamp command while an unregistered device floods the daemon with refused messages.

`luciole run` serves 400 segments (a counter on each) through mosquitto, queues set as in
config/mosquitto/luciole.conf. A publisher process on loopback floods
`sensor/pedestrian/intruder`, a device the site does not register, at 0 (the baseline, same
run), 2,000 and 20,000 messages a second for a bounded time; each rate is one phase. The
flood is QoS 0 by default: it then reaches the daemon in order, as fast as sent, while at
QoS 1 the broker's in-flight window paces it by the daemon's acknowledgements (`--qos 1`).
In each phase, probes publish a presence reading on a segment not yet raised and time until
its command arrives (as bench/latency.py does); the daemon's resident memory is sampled, and
the messages it put on the dead-letter topic are counted. Then, under the fastest flood,
SIGTERM: how long `luciole run` takes to exit. The last line is the JSON summary.
`--smoke` is the CI run: a few probes under a light flood, to show that the benchmark still
runs (not a measure).
"""

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import aiomqtt

from gateway.mqtt.broker import free_port
from gateway.wire.payloads import LOW_LATENCY_SOCKET_OPTIONS
from sim.world.places import midnight_longitude

SEGMENTS = 400
SITE = "bench"
ROOT = f"luciole/{SITE}"
INTRUDER = f"{ROOT}/sensor/pedestrian/intruder"
PUBLISHER = Path(__file__).parent / "loads" / "raw_flood.py"
RATES = [0, 2000, 20000]
SMOKE = {"samples": 5, "rates": [0, 50, 200]}
WARMUP_S = 1.0  # the flood reaches its rate before the first probe
PROBE_TIMEOUT_S = 5.0  # a phase whose probe waits this long is over: the presence never came
SIGTERM_PATIENCE_S = 30.0


class Target(NamedTuple):
    """The broker's port, the daemon's process id, and the flood's QoS."""

    port: int
    pid: int
    qos: int


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("bench/flood.py needs mosquitto (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        # As shipped: keep a backlog whole, and the daemon's window of 100.
        "max_queued_messages 1000000\nmax_queued_bytes 134217728\nmax_inflight_messages 100\n"
    )
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
    assert process.stderr is not None
    for line in process.stderr:  # wait for mosquitto to say it is running
        if b" running" in line:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, port
    sys.exit("mosquitto did not start")


def write_site(workdir: Path, port: int) -> Path:
    longitude, zone = midnight_longitude(time.time())
    segments = "\n".join(
        f"  - {{id: s{i}, street: st{i // 20}, order: {i % 20}, length_m: 30, rated_power_w: 40}}"
        for i in range(SEGMENTS)
    )
    devices = "\n".join(f"  c{i}: {{kind: pedestrian, segment: s{i}}}" for i in range(SEGMENTS))
    (workdir / "site.yaml").write_text(
        f"site: {{id: {SITE}, latitude: 0.0, longitude: {longitude}, timezone: {zone}}}\n"
        f"broker: {{url: 'mqtt://127.0.0.1:{port}', client_id: bench-gateway}}\n"
        f"segments:\n{segments}\ndevices:\n{devices}\n"
    )
    (workdir / "policy.yaml").write_text(
        "presence: {hold_s: 1h, lookahead_segments: 0}\nfailsafe: {stale_after_s: 1h}\n"
    )
    return workdir / "site.yaml"


def start_flood(target: Target, rate: float, seconds: float) -> subprocess.Popen[bytes]:
    """The publisher process (bench/loads/raw_flood.py)."""
    command = [sys.executable, str(PUBLISHER), str(target.port), INTRUDER, str(rate)]
    return subprocess.Popen([*command, str(seconds), str(target.qos)], stdout=subprocess.PIPE)


def flood_sent(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return int(out.strip() or 0)


# --- the measures --------------------------------------------------------------------------


def client(port: int, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, identifier=name, socket_options=LOW_LATENCY_SOCKET_OPTIONS
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def peak_rss(pid: int, stop: asyncio.Event) -> float:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.1)
    return peak


async def count_deadletters(port: int, stop: asyncio.Event) -> int:
    """Messages the daemon put on the dead-letter topic while the phase ran."""
    count = 0
    async with client(port, "bench-deadletters") as c:
        await c.subscribe(f"{ROOT}/deadletter", qos=0)
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.2):
                    await anext(c.messages)
                    count += 1
            except TimeoutError:
                pass
    return count


async def wait_for_lamps(port: int) -> None:
    """Until every lamp has its first command: the daemon is serving."""
    async with client(port, "bench-ready") as c, asyncio.timeout(60):
        await c.subscribe(f"{ROOT}/lamp/+/set", qos=1)
        seen: set[str] = set()
        while len(seen) < SEGMENTS:
            seen.add(str((await anext(c.messages)).topic))


async def probes(port: int, first: int, samples: int) -> list[float]:
    """Presence → that segment's command, in ms, one fresh segment per probe; stops at the
    first probe that waits PROBE_TIMEOUT_S (its latency counts as that)."""
    out: list[float] = []
    async with client(port, f"bench-probe-{first}") as c:
        await c.subscribe(f"{ROOT}/lamp/+/set", qos=1)
        async with asyncio.timeout(30):  # every lamp's retained command, before timing any
            seen: set[str] = set()
            while len(seen) < SEGMENTS:
                seen.add(str((await anext(c.messages)).topic))
        for i in range(first, first + samples):
            start = time.perf_counter()
            await c.publish(f"{ROOT}/sensor/pedestrian/c{i}", json.dumps({"count": 1}), qos=1)
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    while True:
                        message = await anext(c.messages)
                        # Retained commands come on subscribing; the probe's is sent live.
                        if str(message.topic) == f"{ROOT}/lamp/s{i}/set" and not message.retain:
                            break
            except TimeoutError:
                out.append(PROBE_TIMEOUT_S * 1000)
                break
            out.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.02)
    return out


async def phase(target: Target, rate: float, first: int, samples: int) -> dict[str, float]:
    """One flood rate: its probes' latencies, the daemon's peak RSS, dead letters sent."""
    seconds = WARMUP_S + samples * (PROBE_TIMEOUT_S / 10) + 5
    flooding = start_flood(target, rate, seconds) if rate else None
    stop = asyncio.Event()
    memory = asyncio.create_task(peak_rss(target.pid, stop))
    letters = asyncio.create_task(count_deadletters(target.port, stop))
    started = time.perf_counter()
    await asyncio.sleep(WARMUP_S)
    latency = await probes(target.port, first, samples)
    elapsed = time.perf_counter() - started
    sent = flood_sent(flooding) if flooding else 0
    stop.set()
    return {
        "p50": statistics.median(latency),
        "p99": percentile(latency, 0.99),
        "rss": await memory,
        "deadletters": await letters,
        "achieved": min(sent, rate * elapsed) / elapsed,
        "probes": len(latency),
    }


def sigterm_under_flood(daemon: subprocess.Popen[bytes], target: Target, rate: float) -> float:
    """Seconds from SIGTERM to exit while `rate` refused messages a second arrive."""
    flooding = start_flood(target, rate, WARMUP_S + SIGTERM_PATIENCE_S)
    time.sleep(WARMUP_S)  # the flood at its rate: a benchmark may wait, tests may not
    start = time.perf_counter()
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=SIGTERM_PATIENCE_S)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    elapsed = time.perf_counter() - start
    flood_sent(flooding)
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(workdir: Path, rates: list[int], samples: int, qos: int) -> dict[str, object]:
    broker, port = start_mosquitto(workdir)
    log = (workdir / "daemon.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "luciole.main",
        "run",
        "--config",
        str(write_site(workdir, port)),
    ]
    daemon = subprocess.Popen([*command, "--log-level", "info"], stderr=log)
    target = Target(port, daemon.pid, qos)
    try:
        asyncio.run(wait_for_lamps(port))
        phases = []
        for index, rate in enumerate(rates):
            phases.append(asyncio.run(phase(target, rate, index * samples, samples)))
            print(f"{rate}/s: {phases[-1]}", file=sys.stderr)
        sigterm_s = sigterm_under_flood(daemon, target, rates[-1])
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
        broker.terminate()
        broker.wait(timeout=10)
    return {
        "bench": "flood",
        "qos": qos,
        "refused_per_s": rates,
        "achieved_per_s": [round(p["achieved"]) for p in phases],
        "presence_p50_ms": [round(p["p50"], 2) for p in phases],
        "presence_p99_ms": [round(p["p99"], 2) for p in phases],
        "probes": [int(p["probes"]) for p in phases],
        "rss_mb": [round(p["rss"], 1) for p in phases],
        "deadletter_topic_msgs": [int(p["deadletters"]) for p in phases],
        "log_bytes": (workdir / "daemon.log").stat().st_size,
        "sigterm_s": round(sigterm_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="probes per flood rate")
    parser.add_argument("--rates", type=int, nargs="+", default=RATES, help="refused msgs/s")
    parser.add_argument(
        "--qos", choices=["0", "1"], default="0", help="of the flood (default: %(default)s)"
    )
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    if args.samples * len(args.rates) > SEGMENTS:
        parser.error(f"at most {SEGMENTS} probes in all (one fresh segment each)")
    with tempfile.TemporaryDirectory() as folder:
        summary = run(Path(folder), args.rates, args.samples, int(args.qos))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
