"""What one district's daemon costs: memory and CPU of `luciole run` at 10,000 segments and
2,000 devices, beside a small site's (100 segments, 20 devices) in the same run.

Each site is lit (it is night at its longitude), served by one daemon on mosquitto, and fed
for `--seconds` the traffic its devices send in the field: every device reports once per
`--period` (a counter its walkers, a meter its index, a bin its fill), spread evenly, so the
big site takes 2,000 messages a period and lights for the walkers it hears. Measured from
/proc: the CPU time the daemon spent over the window (as a share of one core), its resident
memory at the end and its peak, and how long it took to connect (start-up included). The last
line is the JSON summary; `--smoke` is CI's tiny run (not a measure).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest import paho_client, start_mosquitto, stop, until_connected

from sim.world.places import midnight_longitude

SMOKE = {"segments": 200, "devices": 40, "seconds": 4.0, "period": 2.0}
BASELINE = (100, 20)  # segments, devices
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cost:
    segments: int
    devices: int
    messages: int
    startup_s: float
    cpu_pct: float
    rss_mb: float
    peak_rss_mb: float


def write_site(folder: Path, port: int, segments: int, devices: int) -> Path:
    """Streets of 20 segments; devices spread over them: 60 % counters, 20 % meters, 20 % bins."""
    folder.mkdir(parents=True, exist_ok=True)
    longitude, zone = midnight_longitude(time.time())
    lines = [
        f"site: {{id: d{segments}, latitude: 0.0, longitude: {longitude}, timezone: {zone}}}",
        f"broker: {{url: 'mqtt://127.0.0.1:{port}', client_id: district-{segments}}}",
        "segments:",
        *(
            f"  - {{id: s{i}, street: st{i // 20}, order: {i % 20}, length_m: 30, "
            "rated_power_w: 40}"
            for i in range(segments)
        ),
        "devices:",
        *(
            f"  {name}: {{kind: {kind}, segment: s{i * segments // devices}}}"
            for i, (name, kind) in enumerate(device_names(devices))
        ),
    ]
    (folder / "site.yaml").write_text("\n".join(lines) + "\n")
    (folder / "policy.yaml").write_text("presence: {hold_s: 60s, lookahead_segments: 2}\n")
    return folder / "site.yaml"


def device_names(devices: int) -> list[tuple[str, str]]:
    kinds = ["pedestrian"] * 3 + ["water", "bin"]
    return [(f"{kinds[i % 5]}-{i}", kinds[i % 5]) for i in range(devices)]


def payload(kind: str, round_no: int, rng: random.Random) -> str:
    if kind == "pedestrian":
        return json.dumps({"count": rng.choice([0, 0, 1, 2]), "period_s": 60})
    if kind == "water":
        return json.dumps({"total_m3": 100 + round_no * 0.01})
    return json.dumps({"fill_ratio": round(min(1.0, 0.2 + round_no * 0.01), 3)})


def feed(port: int, site_id: str, devices: int, seconds: float, period_s: float) -> int:
    """Every device once per period, evenly spread, for `seconds`; messages sent."""
    client = paho_client(port, f"feed-{site_id}", clean=True)
    client.loop_start()
    rng, names = random.Random(1), device_names(devices)
    gap_s, sent, start_s = period_s / devices, 0, time.monotonic()
    while (due_s := start_s + sent * gap_s) < start_s + seconds:
        time.sleep(max(0.0, due_s - time.monotonic()))  # a steady load, as in the field
        name, kind = names[sent % devices]
        topic = f"luciole/{site_id}/sensor/{kind}/{name}"
        client.publish(topic, payload(kind, sent // devices, rng), qos=1)
        sent += 1
    client.disconnect()
    client.loop_stop()
    return sent


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(
    workdir: Path, port: int, segments: int, devices: int, args: argparse.Namespace
) -> Cost:
    site = write_site(workdir / f"s{segments}", port, segments, devices)
    start_s = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "luciole.main", "run", "--config", str(site)],
        stderr=subprocess.PIPE,
    )
    until_connected(daemon, f"luciole run ({segments} segments)")
    startup_s = time.monotonic() - start_s
    before_s = cpu_s(daemon.pid)
    window_start_s = time.monotonic()
    sent = feed(port, f"d{segments}", devices, args.seconds, args.period)
    window_s = time.monotonic() - window_start_s
    used_s = cpu_s(daemon.pid) - before_s
    rss, peak = memory_mb(daemon.pid, "VmRSS"), memory_mb(daemon.pid, "VmHWM")
    stop(daemon)
    cost = Cost(
        segments, devices, sent, round(startup_s, 2), round(100 * used_s / window_s, 1), rss, peak
    )
    print(f"{segments:>6} segments, {devices:>5} devices: {cost}", file=sys.stderr)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--period", type=float, default=60.0, help="each device reports every")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        broker, port = start_mosquitto(workdir)
        try:
            small = measure(workdir, port, *BASELINE, args)
            big = measure(workdir, port, args.segments, args.devices, args)
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    print(
        json.dumps(
            {
                "bench": "district",
                "segments": big.segments,
                "devices": big.devices,
                "msgs_per_s": round(big.messages / args.seconds, 1),
                "cpu_pct_of_one_core": big.cpu_pct,
                "rss_mb": big.rss_mb,
                "peak_rss_mb": big.peak_rss_mb,
                "startup_s": big.startup_s,
                "baseline": {
                    "segments": small.segments,
                    "devices": small.devices,
                    "cpu_pct_of_one_core": small.cpu_pct,
                    "rss_mb": small.rss_mb,
                },
                "rss_ratio_vs_baseline": round(big.rss_mb / small.rss_mb, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
