"""Draining a backlog: N native QoS 1 messages queued in mosquitto for a persistent session.

(a) baseline: a bare paho subscriber that only acknowledges; (b) `luciole run`: each message
decoded, validated, committed to the spool, then acknowledged; (c) the same on the inbox's
public path, the one it takes when aiomqtt's or paho's private parts are not there (forced
here through its detector). Same broker, same run; the drains alternate for `--rounds` rounds
and each rate is the median of its rounds, so that a burst of load from elsewhere on the
machine does not decide the ratio. Luciole's time runs from the start of its process (start-up
included) until the last reading is in the spool. The last line is the JSON summary; `lost`
(and `fallback_lost`) count messages queued but not in the spool afterwards, over all rounds.
`--smoke` is the CI run: a small backlog, one round, to show that the benchmark still runs
(not a measure).
"""

import argparse
import json
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.mqtt.broker import free_port

TOPIC = "luciole/bench/sensor/water/meter-1"
# The bare subscriber's own topic, same payloads: each backlog is queued for one session only.
RAW_TOPIC = "bench/raw/water/meter-1"
# `luciole run` with the inbox's detector saying no: what a machine without the hooks gets.
PUBLIC_PATH = (
    "import sys; import gateway.mqtt.hooks as hooks; from luciole.main import main; "
    "hooks.why_not_fast = lambda *_: 'bench/ingest.py measures the public path'; "
    "sys.exit(main())"
)
SMOKE = {"messages": 200, "rounds": 1}


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("bench/ingest.py needs mosquitto (apt-get install mosquitto)")
    port = free_port()
    (workdir / "m.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 0\nmax_inflight_messages 100\n"  # 0: keep the whole backlog
    )
    process = subprocess.Popen([binary, "-c", str(workdir / "m.conf")], stderr=subprocess.PIPE)
    assert process.stderr is not None
    for line in process.stderr:
        if b" running" in line:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, port
    sys.exit("mosquitto did not start")


def paho_client(port: int, client_id: str, clean: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    return client


def register_session(port: int, client_id: str) -> None:
    """Connect once with a persistent session and subscribe, so the broker queues for us."""
    subscribed = threading.Event()
    client = paho_client(port, client_id, clean=False)
    client.on_subscribe = lambda *_: subscribed.set()
    client.loop_start()
    client.subscribe(RAW_TOPIC, 1)
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def queue_messages(port: int, count: int, topic: str, first_seq: int = 0) -> None:
    client = paho_client(port, "bench-publisher", clean=True)
    client.loop_start()
    last = None
    for seq in range(first_seq, first_seq + count):
        body = json.dumps({"total_m3": 1 + seq / 1000, "seq": seq})
        last = client.publish(topic, body, qos=1)
        if seq % 1000 == 999:  # keep paho's outgoing queue bounded
            last.wait_for_publish()
    assert last is not None
    last.wait_for_publish()
    client.disconnect()
    client.loop_stop()


def drain_raw(port: int, count: int) -> float:
    """Seconds for a bare paho subscriber to receive and ack the backlog."""
    received = 0
    done = threading.Event()

    def on_message(*_: object) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", clean_session=False)
    client.on_message = on_message
    start = time.perf_counter()
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(600)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


def write_site(folder: Path, port: int) -> Path:
    (folder / "site.yaml").write_text(
        "site: {id: bench, latitude: 0, longitude: 0}\n"
        f"broker: {{url: 'mqtt://127.0.0.1:{port}', client_id: bench-gateway}}\n"
        "segments: [{id: s1, street: a, order: 1, length_m: 30, rated_power_w: 40}]\n"
        "devices: {meter-1: {kind: water, segment: s1}}\n"
    )
    (folder / "policy.yaml").write_text("{}\n")
    return folder / "site.yaml"


def run_daemon(site: Path, public_path: bool = False) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        *(["-c", PUBLIC_PATH] if public_path else ["-m", "luciole.main"]),
        "run",
        "--config",
        str(site),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command)


def drain_luciole(site: Path, count: int, public_path: bool = False) -> tuple[float, int, float]:
    """(seconds until every message is in the spool, rows stored, peak RSS in MB), into a
    spool of its own."""
    spool_path = site.parent / "spool" / "luciole.db"
    shutil.rmtree(spool_path.parent, ignore_errors=True)
    start = time.perf_counter()
    daemon = run_daemon(site, public_path)
    rows, last_change = 0, time.perf_counter()
    while rows < count and time.perf_counter() - last_change < 30:
        time.sleep(0.05)  # polling the spool from outside the daemon
        now_rows = _stored_rows(spool_path)
        if now_rows != rows:
            rows, last_change = now_rows, time.perf_counter()
    elapsed = time.perf_counter() - start
    peak_mb = _peak_rss_mb(daemon.pid)
    stop(daemon)
    return elapsed, _stored_rows(spool_path), peak_mb


def until_connected(daemon: subprocess.Popen[bytes], what: str) -> None:
    """Read a `luciole run` started with `stderr=PIPE` (log level info) until it says it has
    subscribed, then let its log drain in a thread; exit, with what it said, if it stops."""
    assert daemon.stderr is not None
    said: list[bytes] = []
    for line in daemon.stderr:
        if b"connected, listening" in line:
            threading.Thread(target=daemon.stderr.read, daemon=True).start()
            return
        said = [*said[-20:], line]
    told = b"".join(said).decode(errors="replace")
    sys.exit(f"{what} exited before it connected:\n{told}")


def stop(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited within a minute (a benchmark must end)."""
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print("luciole run did not stop on SIGTERM within 60 s; killed", file=sys.stderr)
        daemon.kill()
        daemon.wait()


def _stored_rows(path: Path) -> int:
    """Rows in the daemon's spool, read-only and without disturbing its writes."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            query = "SELECT COUNT(*) FROM readings WHERE kind = 'water'"  # not energy, alerts
            count: int = db.execute(query).fetchone()[0]
            return count
    except sqlite3.OperationalError:
        return 0  # not created yet


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating drains of each")
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    count = args.messages
    raw_rates: list[float] = []
    luciole_rates: list[float] = []
    fallback_rates: list[float] = []
    lost, fallback_lost, peak_mb = 0, 0, 0.0
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        broker, port = start_mosquitto(workdir)
        try:
            register_session(port, "bench-raw")
            site = write_site(workdir, port)
            daemon = run_daemon(site)  # creates the gateway's persistent session, then stops
            time.sleep(5.0)  # start-up and connection; a benchmark may wait, tests may not
            stop(daemon)
            for round_no in range(args.rounds):
                queue_messages(port, count, RAW_TOPIC, round_no * count)
                raw_rates.append(count / drain_raw(port, count))
                queue_messages(port, count, TOPIC, round_no * count)
                luciole_s, stored, peak = drain_luciole(site, count)
                luciole_rates.append(count / luciole_s)
                lost, peak_mb = lost + count - stored, max(peak_mb, peak)
                queue_messages(port, count, TOPIC, (args.rounds + round_no) * count)
                fallback_s, fallback_stored, _ = drain_luciole(site, count, public_path=True)
                fallback_rates.append(count / fallback_s)
                fallback_lost += count - fallback_stored
                print(
                    f"round {round_no + 1}: bare paho {raw_rates[-1]:,.0f} msg/s, "
                    f"luciole {luciole_rates[-1]:,.0f} msg/s (stored {stored:,} of {count:,}), "
                    f"public path {fallback_rates[-1]:,.0f} msg/s "
                    f"(stored {fallback_stored:,} of {count:,})",
                    file=sys.stderr,
                )
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    raw_rate, luciole_rate = statistics.median(raw_rates), statistics.median(luciole_rates)
    fallback_rate = statistics.median(fallback_rates)
    print(
        json.dumps(
            {
                "bench": "ingest",
                "messages": count,
                "raw_msgs_per_s": round(raw_rate),
                "luciole_msgs_per_s": round(luciole_rate),
                "ratio": round(luciole_rate / raw_rate, 3),
                "lost": lost,
                "fallback_msgs_per_s": round(fallback_rate),
                "fallback_ratio": round(fallback_rate / raw_rate, 3),
                "fallback_lost": fallback_lost,
                "peak_rss_mb": peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
