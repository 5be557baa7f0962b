"""The daemon against a broker that goes away: restarts and absences lose nothing."""

import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from gateway.spool import Spool
from tests.conftest import Embedded, Mosquitto, new_broker
from tests.e2e.support import Lamps, running_daemon, stderr_until, until_handled, write_site


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto | Embedded]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = new_broker(workdir)
    broker.start()
    yield broker
    broker.stop()


async def test_daemon_reconnects_and_resubscribes_after_broker_restart(
    tmp_path: Path, own_broker: Mosquitto | Embedded
) -> None:
    """After the broker restarts (sessions lost), the daemon reconnects and serves presence."""
    site_id = f"restart-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, own_broker.info, site_id, "30%")
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        own_broker.stop()
        await stderr_until(daemon, "retrying")
        own_broker.start()
        await stderr_until(daemon, "connected")
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier=f"t-{site_id}") as c:
            lamps = Lamps(c, site_id)
            await c.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
            await lamps.until(lambda: len(lamps.latest) == 5)  # resent after reconnecting
            presence = json.dumps({"count": 1, "direction": "backward"})
            await c.publish(f"{lamps.root}/sensor/pedestrian/counter-2", presence, qos=1)
            await lamps.until(lambda: lamps.latest.get("s1", {}).get("level") == 1.0)
            assert lamps.latest["s3"]["level"] == 0.3, "backward walker: s3 is behind"


async def test_messages_sent_while_daemon_is_down_are_delivered_on_return(
    tmp_path: Path, own_broker: Mosquitto | Embedded
) -> None:
    """QoS 1 presence published while the daemon is stopped is handled when it comes back."""
    if isinstance(own_broker, Embedded):
        pytest.skip(
            "amqtt drops a persistent session's subscriptions on disconnect; needs mosquitto"
        )
    site_id = f"absent-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, own_broker.info, site_id, "30%")
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        daemon.send_signal(signal.SIGTERM)
        await stderr_until(daemon, "stopped")
    async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier=f"t-{site_id}") as c:
        lamps = Lamps(c, site_id)
        await c.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        await lamps.until(lambda: len(lamps.latest) == 5)  # retained from the first run
        presence = json.dumps({"count": 1, "direction": "forward", "seq": 7})
        await c.publish(f"{lamps.root}/sensor/pedestrian/counter-2", presence, qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: lamps.latest["s3"]["level"] == 1.0)
            assert lamps.latest["s2"]["reason"] == "presence"


async def test_kill_9_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, own_broker: Mosquitto | Embedded
) -> None:
    """`kill -9` while readings stream in: after a restart every reading is stored, once."""
    if isinstance(own_broker, Embedded):
        pytest.skip(
            "amqtt drops a persistent session's subscriptions on disconnect; needs mosquitto"
        )
    site_id = f"kill9-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, own_broker.info, site_id, "30%")
    total = 300
    async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier=f"t-{site_id}") as c:
        lamps = Lamps(c, site_id)
        await c.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "connected")
            for seq in range(total):
                if seq == total // 3:
                    daemon.kill()  # SIGKILL: no chance to flush or ack anything
                body = json.dumps({"total_m3": 10 + seq / 100, "seq": seq})
                await c.publish(f"{lamps.root}/sensor/water/meter-1", body, qos=1)
        assert daemon.returncode == -signal.SIGKILL
        async with running_daemon(site) as again:
            await until_handled(c, lamps, f"{lamps.root}/sensor/water/meter-1")
            again.send_signal(signal.SIGTERM)
            await stderr_until(again, "stopped")
    spool = Spool(tmp_path / "spool" / "luciole.db")
    rows = [body for _, body in spool.unwritten(10 * total) if body["kind"] == "water"]
    assert sorted(round(float(str(r["total_m3"])) * 100) - 1000 for r in rows) == list(range(total))
