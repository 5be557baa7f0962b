"""Refusals that cost little, on a real broker: a flood from an unregistered device is shed
before decoding, summarised in the log, and neither delays presence nor a stop; a large
payload leaves a bounded dead letter."""

import asyncio
import base64
import hashlib
import json
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from gateway.config import load_settings
from gateway.daemon import RECEIVE_BATCH, Daemon
from gateway.mqtt.inbox import Inbox, Received
from gateway.wire.clock import SystemClock
from tests.conftest import BrokerInfo, Mosquitto, mosquitto_path
from tests.e2e.flooding import Flood
from tests.e2e.support import TIMEOUT_S, Lamps, running_daemon, stderr_until, write_site

# Floods go as fast as the broker takes them (a pace no sender reaches), for longer than any
# wait here. A daemon that decodes and dead-letters each message handles about 5,000 a second:
# 200,000 sent are 40 s of work it would do before a presence queued behind them, while one
# that sheds them before decoding takes about 60,000 a second (bench/flood.py for the rates).
UNPACED = 10_000_000
FLOOD_S = 120.0
BACKLOG = 200_000
TAKEN = 20_000  # messages the receive loop takes before its batches are looked at


@pytest.fixture
def site_id() -> str:
    return f"flood-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def queues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """mosquitto with the queues of config/mosquitto/luciole.conf: it keeps what the daemon
    has not read yet instead of dropping it past 1,000, as its default does."""
    binary = mosquitto_path()
    if binary is None:
        pytest.skip("floods are measured on mosquitto's queues (apt-get install mosquitto)")
    shipped = (
        "allow_anonymous true",
        "max_queued_messages 1000000",
        "max_queued_bytes 134217728",
        "max_inflight_messages 100",
    )
    server = Mosquitto(binary, tmp_path_factory.mktemp("queues"), settings=shipped)
    server.start()
    yield server.info
    server.stop()


async def lines_until(process: asyncio.subprocess.Process, text: str) -> list[str]:
    """The daemon's log lines up to the one whose message begins with `text`, included."""
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(TIMEOUT_S):
        while not lines or not lines[-1].partition(": ")[2].startswith(text):
            line = (await process.stderr.readline()).decode()
            if not line:
                pytest.fail(f"daemon exited before logging {text!r}")
            lines.append(line)
    return lines


async def test_a_registered_counter_is_served_while_an_unregistered_device_floods(
    tmp_path: Path, queues: BrokerInfo, site_id: str
) -> None:
    """Behind 200,000 messages from a device the site does not know, still arriving as fast
    as the broker takes them, a registered counter's presence still raises its lamps."""
    site = write_site(tmp_path, queues, site_id, "30%")
    async with aiomqtt.Client(queues.host, queues.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            intruder = f"{lamps.root}/sensor/pedestrian/intruder"
            with Flood(queues.port, intruder, UNPACED, FLOOD_S) as flood:
                await stderr_until(daemon, "message rejected")  # the flood has reached it
                await flood.sent(BACKLOG)
                presence = json.dumps({"count": 1, "seq": 1})
                await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", presence, qos=1)
                await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)


async def test_sigterm_under_a_flood_stops_the_daemon(
    tmp_path: Path, queues: BrokerInfo, site_id: str
) -> None:
    """SIGTERM while the fastest flood the broker carries goes on: the daemon stops, cleanly,
    without first handling what is waiting."""
    site = write_site(tmp_path, queues, site_id, "30%")
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        intruder = f"luciole/{site_id}/sensor/pedestrian/intruder"
        with Flood(queues.port, intruder, UNPACED, FLOOD_S) as flood:
            await stderr_until(daemon, "message rejected")
            await flood.sent(BACKLOG)
            daemon.send_signal(signal.SIGTERM)
            await lines_until(daemon, "stopped")
            async with asyncio.timeout(TIMEOUT_S):
                assert await daemon.wait() == 0


async def test_the_receive_loop_takes_a_bounded_batch_per_turn(
    tmp_path: Path, queues: BrokerInfo, site_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However much is waiting (one socket read brings 1,400 of these messages), the daemon
    takes RECEIVE_BATCH at most per turn, so that the tick and a stop come in between."""
    taken: list[int] = []
    enough = asyncio.Event()
    batch = Inbox.batch

    async def counted(inbox: Inbox, *limit: int | None) -> list[Received]:
        found = await batch(inbox, *limit)
        taken.append(len(found))
        if sum(taken) >= TAKEN:
            enough.set()
        return found

    monkeypatch.setattr(Inbox, "batch", counted)
    daemon = Daemon(load_settings(write_site(tmp_path, queues, site_id, "30%")), SystemClock())
    running = asyncio.create_task(daemon.run())
    try:
        async with aiomqtt.Client(queues.host, queues.port, identifier=f"t-{site_id}") as client:
            lamps = Lamps(client, site_id)
            await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
            await lamps.until(lambda: len(lamps.latest) == 5)  # connected and serving
        with Flood(queues.port, f"{lamps.root}/sensor/pedestrian/intruder", UNPACED, FLOOD_S):
            async with asyncio.timeout(TIMEOUT_S):
                await enough.wait()
    finally:
        daemon.stop()
        async with asyncio.timeout(TIMEOUT_S):
            await running
    assert max(taken) <= RECEIVE_BATCH
    assert daemon.stats["shed"] > 0


async def test_refusals_are_summarised_in_the_log_not_written_one_by_one(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """300 messages of an unknown device and 3 bad ones of a known one: one line in full per
    reason, then one summary with the count, which the stop makes at the latest."""
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            for seq in range(300):
                body = json.dumps({"count": 1, "seq": seq})
                await client.publish(f"{lamps.root}/sensor/pedestrian/intruder", body, qos=1)
            counter = f"{lamps.root}/sensor/pedestrian/counter-2"
            for _ in range(3):
                await client.publish(counter, b"{not json", qos=1)
            await client.publish(counter, json.dumps({"count": 1}), qos=1)
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)
            daemon.send_signal(signal.SIGTERM)
            lines = await lines_until(daemon, "stopped")
    messages = [line.partition(": ")[2] for line in lines]
    one_by_one = [m for m in messages if m.startswith(("message rejected", "message shed"))]
    assert len(one_by_one) <= 3  # unknown_device, shed, bad_json
    (summary,) = [m for m in messages if m.startswith("messages refused")]
    stats = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", messages[-1])}
    refused = stats.get("shed", 0) + sum(v for k, v in stats.items() if k.startswith("rejected_"))
    assert f"count={refused} " in summary and refused > len(one_by_one)
    assert "shed:" in summary and "bad_json:3" in summary


async def test_a_large_payload_leaves_a_bounded_dead_letter(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """A 2 MB payload (this broker sets no max_packet_size) is refused as too large; its
    letter, on the topic and in the file, keeps 1 KiB of it with its size and SHA-256."""
    site = write_site(tmp_path, broker, site_id, "30%")
    payload = bytes(range(256)) * 8000
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        await client.subscribe(f"{lamps.root}/deadletter", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(f"{lamps.root}/sensor/water/meter-1", payload, qos=1)
            await lamps.until(lambda: len(lamps.deadletters) == 1)
    (published,) = lamps.deadletters
    assert (published["reason"], published["size"]) == ("too_large", len(payload))
    assert published["sha256"] == hashlib.sha256(payload).hexdigest()
    assert base64.b64decode(str(published["payload_base64"])) == payload[:1024]
    (line,) = (tmp_path / "spool" / "deadletter.jsonl").read_bytes().splitlines()
    assert len(line) < 8 * 1024 and json.loads(line) == published
