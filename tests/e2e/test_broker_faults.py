"""The daemon against a broker that goes away: restarts and absences lose nothing."""

import asyncio
import json
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.store.spool import Spool
from tests.conftest import Embedded, Mosquitto, mosquitto_path
from tests.e2e.support import (
    TIMEOUT_S,
    Lamps,
    running_daemon,
    stderr_until,
    until_handled,
    write_site,
)


async def test_daemon_reconnects_and_resubscribes_after_broker_restart(
    tmp_path: Path, own_broker: Mosquitto | Embedded
) -> None:
    """After the broker restarts (sessions lost), the daemon reconnects and serves presence."""
    site_id = f"restart-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, own_broker.info, site_id, "30%")
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        own_broker.stop()
        await stderr_until(daemon, "broker unreachable")
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


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """mosquitto keeping its sessions on disk across a restart, as a production one does."""
    binary = mosquitto_path()
    if binary is None:
        pytest.skip("needs mosquitto: the embedded broker keeps no session across a restart")
    # mosquitto drops root for its own user, which must be able to write there.
    store = Path(tempfile.mkdtemp(prefix="luciole-mosquitto-"))
    store.chmod(0o777)
    workdir = tmp_path / "broker"
    workdir.mkdir()
    settings = ("allow_anonymous true", "persistence true", f"persistence_location {store}/")
    broker = Mosquitto(binary, workdir, settings=settings)
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(store, ignore_errors=True)


class Publisher:
    """A sensor gateway's publisher: QoS 1, persistent session, paho's own reconnects."""

    def __init__(self, port: int, client_id: str) -> None:
        self._acked: set[int] = set()
        self._sent: set[int] = set()
        self._change = threading.Condition()  # paho acknowledges on its own thread
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.on_publish = self._on_publish
        # paho annotates the delays as int but sleeps them as floats; fractions of a second
        # keep the reconnects inside the test's patience.
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)  # type: ignore[arg-type]
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, _client: object, _userdata: object, mid: int, *_: object) -> None:
        with self._change:
            self._acked.add(mid)
            self._change.notify_all()

    def publish(self, topic: str, body: str) -> None:
        mid = self.client.publish(topic, body, qos=1).mid
        with self._change:
            self._sent.add(mid)

    def wait_acked(self, timeout_s: float) -> bool:
        """Whether the broker acknowledged every message published so far within `timeout_s`.

        Asked once the test has published all: acknowledgements catching up with a stream
        still being published (while the broker restarts, say) say nothing about the rest.
        """
        with self._change:
            return self._change.wait_for(lambda: self._sent <= self._acked, timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_broker_restart_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, persistent_broker: Mosquitto
) -> None:
    """The broker restarts while readings stream in: every reading is stored, once."""
    site_id = f"bounce-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, persistent_broker.info, site_id, "30%")
    total, topic = 600, f"luciole/{site_id}/sensor/water/meter-1"
    sender = Publisher(persistent_broker.port, f"meters-{site_id}")
    try:
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "connected")
            for seq in range(total):
                if seq == total // 3:
                    await asyncio.to_thread(persistent_broker.stop)  # sessions saved to disk
                    await asyncio.to_thread(persistent_broker.start)
                sender.publish(topic, json.dumps({"total_m3": 10 + seq / 100, "seq": seq}))
            assert await asyncio.to_thread(sender.wait_acked, TIMEOUT_S), "broker lost some"
            await stderr_until(daemon, "connected")  # back on the restarted broker
            async with aiomqtt.Client("127.0.0.1", persistent_broker.port) as c:
                await until_handled(c, Lamps(c, site_id), topic)
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
    finally:
        sender.close()
    spool = Spool(tmp_path / "spool" / "luciole.db")
    rows = [body for _, body in spool.unwritten(10 * total) if body["kind"] == "water"]
    stored = sorted(round(float(str(r["total_m3"])) * 100) - 1000 for r in rows)
    assert stored == list(range(total))
