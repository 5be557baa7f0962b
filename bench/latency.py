"""Presence reading published → lamp command received, through mosquitto, under load.

`luciole run` serves a site of 400 segments (a counter on each) while a loader publishes
1,000 other sensor messages per second. Each probe is a presence reading on a segment not yet
raised; its latency is the time until that segment's command arrives. The baseline, in the same
run and through the same broker, is a bare message round trip. The last line is the JSON.
`--smoke` is the CI run: a few probes under a light load, to show that the benchmark still runs
(not a measure).
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
import time
from pathlib import Path

import aiomqtt

from gateway.mqtt.broker import free_port
from gateway.wire.payloads import LOW_LATENCY_SOCKET_OPTIONS
from sim.world.places import midnight_longitude

SEGMENTS = 400
SITE = "bench"
ROOT = f"luciole/{SITE}"
SMOKE = {"samples": 5, "rate": 50.0}


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("bench/latency.py needs mosquitto (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
    assert process.stderr is not None
    for line in process.stderr:  # wait for mosquitto to say it is running
        if b" running" in line:
            return process, port
    sys.exit("mosquitto did not start")


def write_site(workdir: Path, port: int) -> Path:
    longitude, zone = midnight_longitude(time.time())
    segments = "\n".join(
        f"  - {{id: s{i}, street: st{i // 20}, order: {i % 20}, length_m: 30, rated_power_w: 40}}"
        for i in range(SEGMENTS)
    )
    devices = "\n".join(f"  c{i}: {{kind: pedestrian, segment: s{i}}}" for i in range(SEGMENTS))
    meters = "\n".join(f"  w{i}: {{kind: water, segment: s{i}}}" for i in range(SEGMENTS))
    (workdir / "site.yaml").write_text(
        f"site: {{id: {SITE}, latitude: 0.0, longitude: {longitude}, timezone: {zone}}}\n"
        f"broker: {{url: 'mqtt://127.0.0.1:{port}', client_id: bench-gateway}}\n"
        f"segments:\n{segments}\ndevices:\n{devices}\n{meters}\n"
    )
    (workdir / "policy.yaml").write_text(
        "presence: {hold_s: 1h, lookahead_segments: 0}\nfailsafe: {stale_after_s: 1h}\n"
    )
    return workdir / "site.yaml"


def client(port: int, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, identifier=name, socket_options=LOW_LATENCY_SOCKET_OPTIONS
    )


async def load(port: int, rate_per_s: float, stop: asyncio.Event) -> int:
    """Valid water readings at `rate_per_s`, paced in small batches."""
    sent = 0
    async with client(port, "bench-load") as c:
        start = time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - start) * rate_per_s)
            for _ in range(due - sent):
                body = json.dumps({"total_m3": 1.0 + sent * 1e-3, "seq": sent})
                await c.publish(f"{ROOT}/sensor/water/w{sent % SEGMENTS}", body, qos=1)
                sent += 1
            await asyncio.sleep(0.005)
    return sent


async def round_trips(port: int, samples: int) -> list[float]:
    """Baseline: a bare publish → delivery through the same broker, in ms."""
    out = []
    async with client(port, "bench-a") as a, client(port, "bench-b") as b:
        await b.subscribe("bench/echo", qos=1)
        for _ in range(samples):
            start = time.perf_counter()
            await a.publish("bench/echo", b"x", qos=1)
            await anext(b.messages)
            out.append((time.perf_counter() - start) * 1000)
    return out


async def probes(port: int, samples: int) -> list[float]:
    """Presence → that segment's command, in ms, one fresh segment per probe."""
    out = []
    async with client(port, "bench-probe") as c:
        await c.subscribe(f"{ROOT}/lamp/+/set", qos=1)
        async with asyncio.timeout(30):  # the first commands: every lamp gets its level
            seen: set[str] = set()
            while len(seen) < SEGMENTS:
                seen.add(str((await anext(c.messages)).topic))
        for i in range(samples):
            start = time.perf_counter()
            await c.publish(f"{ROOT}/sensor/pedestrian/c{i}", json.dumps({"count": 1}), qos=1)
            async with asyncio.timeout(10):
                while True:
                    message = await anext(c.messages)
                    if str(message.topic) == f"{ROOT}/lamp/s{i}/set":
                        break
            out.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.01)
    return out


async def measure(
    port: int, samples: int, rate_per_s: float
) -> tuple[list[float], list[float], float]:
    """(latencies, baseline round trips, background rate achieved per second)."""
    stop = asyncio.Event()
    start = time.perf_counter()
    loader = asyncio.create_task(load(port, rate_per_s, stop))
    await asyncio.sleep(1.0)  # let the load reach its rate before measuring
    try:
        baseline = await round_trips(port, samples)
        latency = await probes(port, samples)
    finally:
        stop.set()
        sent = await loader
    return latency, baseline, sent / (time.perf_counter() - start)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1000.0, help="background messages/s")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        broker, port = start_mosquitto(workdir)
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "luciole.main",
                "run",
                "--config",
                str(write_site(workdir, port)),
                "--log-level",
                "warning",
            ]
        )
        try:
            latency, baseline, achieved = asyncio.run(
                measure(port, min(args.samples, SEGMENTS), args.rate)
            )
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
            broker.terminate()
            broker.wait(timeout=10)
    print(
        f"broker round trip p50 {statistics.median(baseline):.2f} ms; "
        f"presence → command p50 {statistics.median(latency):.2f} ms, "
        f"p99 {percentile(latency, 0.99):.2f} ms",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "latency",
                "samples": len(latency),
                "p50_ms": round(statistics.median(latency), 2),
                "p99_ms": round(percentile(latency, 0.99), 2),
                "max_ms": round(max(latency), 2),
                "baseline_round_trip_p50_ms": round(statistics.median(baseline), 2),
                "background_msgs_per_s": round(achieved),
            }
        )
    )


if __name__ == "__main__":
    main()
