"""`kill -9` between the database write and the spool's mark: the batch is sent again, and a
de-duplicating database holds every reading exactly once."""

import json
import os
import signal
import time
import uuid
from pathlib import Path

import aiomqtt
import pytest

from gateway.store.database import HOLD_ENV
from gateway.store.spool import Spool
from tests.conftest import BrokerInfo, Victoria
from tests.e2e.support import Lamps, running_daemon, stderr_until, until_handled, write_site

# Fewer readings than mosquitto queues for a slow subscriber (`max_queued_messages`, 1,000 by
# default, beyond which it drops them): the spool, not the broker, is under test here.
READINGS, BATCH = 800, 300


async def _spool_readings(tmp_path: Path, broker: BrokerInfo, site_id: str) -> None:
    """The daemon without a database takes READINGS meter readings into its spool, then stops."""
    site = write_site(tmp_path, broker, site_id, "30%")
    base_s = time.time() - 3600  # an hour ago: visible to queries at once
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        topic = f"{lamps.root}/sensor/water/meter-1"
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "connected")
            for seq in range(READINGS):
                body = {"total_m3": 10 + seq / 100, "seq": seq, "ts": base_s + seq}
                await client.publish(topic, json.dumps(body), qos=1)
            await until_handled(client, lamps, topic)
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")


async def test_a_kill_between_the_write_and_the_mark_stores_each_reading_once(
    tmp_path: Path,
    broker: BrokerInfo,
    deduplicating_victoria: Victoria,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first batch reaches the database, the daemon dies before marking it; after the
    restart it is sent again, and the database holds each of the 800 readings once."""
    site_id = f"resend-{uuid.uuid4().hex[:8]}"
    await _spool_readings(tmp_path, broker, site_id)
    influx = f"influx: {{url: '{deduplicating_victoria.url}', batch_size: {BATCH}}}\n"
    site = write_site(tmp_path, broker, site_id, "30%", influx)
    spool_path = tmp_path / "spool" / "luciole.db"
    hold = tmp_path / "hold"
    os.mkfifo(hold)  # the writer blocks reading it: nobody ever writes, the daemon is killed
    monkeypatch.setenv(HOLD_ENV, str(hold))
    async with running_daemon(site) as daemon:
        held = await stderr_until(daemon, "test hook: holding")
        daemon.kill()  # SIGKILL, inside the window
        await daemon.wait()
    assert f"written={BATCH}" in held
    assert deduplicating_victoria.count("water_total_m3") == BATCH  # the write happened...
    assert Spool(spool_path).stats().unwritten >= READINGS  # ...and none of it was marked
    monkeypatch.delenv(HOLD_ENV)
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        daemon.send_signal(signal.SIGTERM)  # the last drain sends what is left, then stops
        await stderr_until(daemon, "storage stopped")
    assert Spool(spool_path).stats().unwritten == 0
    assert deduplicating_victoria.count("water_total_m3") == READINGS
