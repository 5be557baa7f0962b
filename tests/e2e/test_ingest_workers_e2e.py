"""Three ingest workers on one shared subscription and one lighting daemon, on mosquitto:
20,000 QoS 1 messages, one worker killed with `kill -9` inside its narrowest window (a batch
in the database, not yet marked in its spool), and every reading in the database once."""

import asyncio
import json
import os
import re
import signal
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from gateway.store.database import HOLD_ENV
from gateway.store.spool import Spool
from tests.conftest import Mosquitto, Victoria, mosquitto_path
from tests.e2e.support import TIMEOUT_S, running_daemon, stderr_until, write_site

MESSAGES = 20_000
DETECTIONS = 100  # of them, a walker on s2 every 200 messages; the rest meter readings
KILL_AFTER = 5_000  # worker 2 is killed once this many were sent and it holds a batch
WORKERS = (1, 2, 3)
# Everything the workers store reaches the database in seconds; a loaded box is slower.
STORED_TIMEOUT_S = 8 * TIMEOUT_S


@pytest.fixture
def queueing_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """Mosquitto of this test's own, queueing far more than a worker's share for a session
    that is away (its default of 1,000 would drop what the killed worker is owed)."""
    binary = mosquitto_path()
    if binary is None:
        pytest.skip(
            "mosquitto is not installed (apt-get install mosquitto): shared "
            "subscriptions are tested on the broker that deals them round-robin"
        )
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = Mosquitto(
        binary, workdir, settings=("allow_anonymous true", "max_queued_messages 100000")
    )
    broker.start()
    yield broker
    broker.stop()


def _message(seq: int, base_s: float) -> tuple[str, dict[str, object]]:
    """Message `seq`: a detection on counter-2 every 200th, otherwise a meter reading."""
    ts_s = base_s + seq / 10
    if seq % (MESSAGES // DETECTIONS) == 0:
        return "pedestrian/counter-2", {"count": 1, "period_s": 1, "seq": seq, "ts": ts_s}
    return "water/meter-1", {"total_m3": 10 + seq / 1000, "seq": seq, "ts": ts_s}


async def _publish(client: aiomqtt.Client, root: str, seqs: range, base_s: float) -> None:
    for seq in seqs:
        kind, body = _message(seq, base_s)
        await client.publish(f"{root}/sensor/{kind}", json.dumps(body), qos=1)


@asynccontextmanager
async def _worker(site: Path, number: int) -> AsyncIterator[asyncio.subprocess.Process]:
    args = ("--role", "ingest", "--worker", str(number))
    async with running_daemon(site, args=args) as worker:
        await stderr_until(worker, "connected")
        yield worker


async def _until_stored(victoria: Victoria, expected: dict[str, int]) -> None:
    """Until the database holds `expected` samples of each metric. It sends no event when it
    has stored something: the test reads it back, with a deadline against a hang."""
    async with asyncio.timeout(STORED_TIMEOUT_S):
        while True:
            stored = {m: await asyncio.to_thread(victoria.count, m) for m in expected}
            if stored == expected:
                return
            await asyncio.sleep(0.25)


class Commands:
    """Every lamp command on the site's topics, counted as it arrives (a background task)."""

    def __init__(self, client: aiomqtt.Client, root: str) -> None:
        self.client, self.root = client, root
        self.count = 0
        self.latest: dict[str, dict[str, object]] = {}
        self.changed = asyncio.Event()

    async def listen(self) -> None:
        await self.client.subscribe(f"{self.root}/lamp/+/set", qos=1)
        async for message in self.client.messages:
            self.count += 1
            self.latest[str(message.topic).split("/")[-2]] = json.loads(bytes(message.payload))
            self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not done():
                self.changed.clear()
                await self.changed.wait()


def _stopped_stats(line: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def _readings_by_device(spool: Path) -> dict[str, int]:
    """The sensor readings in a spool, per device (not the daemon's own energy and alerts)."""
    query = (
        "SELECT device_id, count(*) FROM readings WHERE kind IN ('pedestrian', 'water', 'bin')"
        " GROUP BY device_id"
    )
    with sqlite3.connect(spool) as db:
        return dict(db.execute(query).fetchall())


async def test_three_workers_share_the_stream_and_a_kill_loses_and_repeats_nothing(
    tmp_path: Path,
    queueing_mosquitto: Mosquitto,
    deduplicating_victoria: Victoria,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each reading is in the database once, the workers split one counter's detections
    between them, a refused reading is explained once (by its worker), and the lighting
    daemon took every message and alone commanded the lamps."""
    site_id = f"share-{uuid.uuid4().hex[:8]}"
    influx = f"influx: {{url: '{deduplicating_victoria.url}', batch_size: 400}}\n"
    site = write_site(tmp_path, queueing_mosquitto.info, site_id, "30%", influx)
    spool = tmp_path / "spool"
    base_s = time.time() - 3600  # an hour ago: visible to queries at once
    hold = tmp_path / "hold"
    os.mkfifo(hold)  # worker 2's writer blocks on it after its first write: then it is killed
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            aiomqtt.Client("127.0.0.1", queueing_mosquitto.port, identifier=f"t-{site_id}")
        )
        root = f"luciole/{site_id}"
        commands = Commands(client, root)
        listening = asyncio.create_task(commands.listen())
        stack.callback(listening.cancel)
        control = await stack.enter_async_context(running_daemon(site, args=("--role", "control")))
        await stderr_until(control, "connected")
        for number in (1, 3):
            await stack.enter_async_context(_worker(site, number))
        monkeypatch.setenv(HOLD_ENV, str(hold))
        second = await stack.enter_async_context(_worker(site, 2))
        monkeypatch.delenv(HOLD_ENV)
        await _publish(client, root, range(KILL_AFTER), base_s)
        await stderr_until(second, "test hook: holding")
        second.kill()  # SIGKILL: a batch in the database, not marked; some messages unacked
        await second.wait()
        refused = b'{"total_m3": "12,5"}'  # a string is not a number: refused, explained once
        await client.publish(f"{root}/sensor/water/meter-1", refused, qos=1)
        await _publish(client, root, range(KILL_AFTER, MESSAGES), base_s)
        await stack.enter_async_context(_worker(site, 2))  # as systemd would restart it
        expected = {"water_total_m3": MESSAGES - DETECTIONS, "pedestrian_count": DETECTIONS}
        await _until_stored(deduplicating_victoria, expected)
        await commands.until(lambda: commands.latest.get("s2", {}).get("reason") == "presence")
        control.send_signal(signal.SIGTERM)
        stopped = _stopped_stats(await stderr_until(control, "stopped"))
        # No worker spoke to a lamp: every command seen is one the lighting daemon counted.
        await commands.until(lambda: commands.count >= stopped["commands"])
    assert commands.count == stopped["commands"]
    assert {m: deduplicating_victoria.count(m) for m in expected} == expected
    for number in WORKERS:  # stopped with SIGTERM: everything taken is in the database
        assert Spool(spool / f"luciole-ingest-{number}.db").stats().unwritten == 0
    shares = [
        _readings_by_device(spool / f"luciole-ingest-{n}.db").get("counter-2", 0) for n in WORKERS
    ]
    assert sum(share > 0 for share in shares) >= 2, shares  # one counter, several workers
    assert stopped["accepted"] == MESSAGES  # the lighting daemon took every message, in order
    assert _readings_by_device(spool / "luciole.db") == {}  # and left the storing to the workers
    letters = [_lines(spool / f"deadletter-ingest-{n}.jsonl") for n in WORKERS]
    assert (sum(letters), _lines(spool / "deadletter.jsonl")) == (1, 0)  # by its worker alone


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0
