"""`luciole run` as a subprocess against a real broker: presence in, lamp commands out."""

import asyncio
import json
import signal
import uuid
from pathlib import Path

import aiomqtt
import pytest

from gateway.mqtt.broker import free_port
from gateway.store.spool import Spool
from tests.conftest import BrokerInfo
from tests.e2e.support import (
    TIMEOUT_S,
    Lamps,
    running_daemon,
    stderr_until,
    until_handled,
    write_policy,
    write_site,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "third_party"


@pytest.fixture
def site_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


async def test_presence_raises_segment_and_neighbour(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """A presence reading through the broker makes the daemon raise its segment and the next."""
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"test-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            assert {c["level"] for c in lamps.latest.values()} == {0.3}
            presence = {"count": 1, "direction": "forward", "seq": 1}
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", json.dumps(presence))
            await lamps.until(lambda: lamps.latest["s3"]["level"] == 1.0)
            assert lamps.latest["s2"]["level"] == 1.0
            assert lamps.latest["s2"]["reason"] == "presence"
            assert lamps.latest["s1"]["level"] == 0.3, "forward walker: the segment behind waits"
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
            async with asyncio.timeout(TIMEOUT_S):
                assert await daemon.wait() == 0


async def test_rejected_message_goes_to_deadletter(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """Bad JSON and unknown devices are refused with a reason, and the daemon keeps running."""
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"test-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        await client.subscribe(f"{lamps.root}/deadletter", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", b"{not json")
            await client.publish(f"{lamps.root}/sensor/pedestrian/intruder", b'{"count": 1}')
            await lamps.until(lambda: len(lamps.deadletters) == 2)
            reasons = [d["reason"] for d in lamps.deadletters]
            assert reasons == ["bad_json", "unknown_device"]
            kept = (tmp_path / "spool" / "deadletter.jsonl").read_text().splitlines()
            assert [json.loads(line)["payload"] for line in kept] == ["{not json", '{"count": 1}']
            presence = json.dumps({"count": 2})
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", presence)
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)


async def test_deadletter_topic_can_be_switched_off(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """With deadletter_topic: false a refused message is kept in the file, not published."""
    site = write_site(tmp_path, broker, site_id, "30%", extra="deadletter_topic: false\n")
    topic = f"luciole/{site_id}/sensor/pedestrian/counter-2"
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"test-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        await client.subscribe(f"{lamps.root}/deadletter", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(topic, b"{not json", qos=1)
            # Handled in order on one topic: once the presence is served, the refusal was.
            # Its letter is written at the end of its batch, after the presence went out: the
            # file is read once the daemon has stopped.
            await client.publish(topic, json.dumps({"count": 1}), qos=1)
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
        # The broker took what the daemon published before it stopped: a marker sent now on
        # the dead-letter topic comes after any letter the daemon published there.
        await client.publish(f"{lamps.root}/deadletter", json.dumps({"marker": 1}), qos=1)
        await lamps.until(lambda: bool(lamps.deadletters))
        assert lamps.deadletters == [{"marker": 1}]
    kept = (tmp_path / "spool" / "deadletter.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in kept] == ["bad_json"]


async def test_sighup_reload_keeps_old_policy_when_new_is_invalid(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """SIGHUP with a broken policy keeps the running one; with a valid one, applies it."""
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"test-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            (tmp_path / "policy.yaml").write_text("presence: {hodl_s: 5s}\n")
            daemon.send_signal(signal.SIGHUP)
            refused = await stderr_until(daemon, "reload refused")
            assert "did you mean 'hold_s'" in refused
            write_policy(tmp_path, "55%")
            daemon.send_signal(signal.SIGHUP)
            await stderr_until(daemon, "policy reloaded")
            await lamps.until(lambda: all(c["level"] == 0.55 for c in lamps.latest.values()))


async def test_chirpstack_uplink_is_stored_for_its_registered_device(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """A real ChirpStack EM400-UDL uplink on the source's topic ends up in the spool."""
    source = (
        f"sources:\n  - {{topic: 'cs-{site_id}/+/device/+/event/up', format: chirpstack, "
        "codec: milesight-em400udl}\n"
    )
    bin_device = (
        "  bin-9: {kind: bin, segment: s3, empty_distance_mm: 3000, full_distance_mm: 200, "
        "network_ids: ['1000000000000001']}\n"
    )
    site = write_site(tmp_path, broker, site_id, "30%", bin_device + source)
    uplink = (FIXTURES / "chirpstack_v4_up_bin_ultrasonic_milesight_em400udl.json").read_bytes()
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(f"cs-{site_id}/7/device/1000000000000001/event/up", uplink, qos=1)
            await until_handled(client, lamps, f"cs-{site_id}/7/device/1000000000000001/event/up")
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
    rows = [body for _, body in Spool(tmp_path / "spool" / "luciole.db").unwritten(10)]
    (stored,) = [r for r in rows if r["kind"] == "bin"]
    assert (stored["device_id"], stored["distance_mm"], stored["alarms"]) == (
        "bin-9",
        2116.0,
        ["tilt"],
    )


async def test_metrics_and_health_endpoints(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """/metrics counts messages by format and outcome; /healthz says the broker is connected."""
    port = free_port()
    site = write_site(tmp_path, broker, site_id, "30%", f"metrics_port: {port}\n")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", b"{bad", qos=1)
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", b'{"count": 1}')
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)
            health = await _get(port, "/healthz")
            metrics = await _get(port, "/metrics")
    assert health.startswith("HTTP/1.1 200") and health.endswith("ok\n")
    assert 'luciole_messages_total{format="native",outcome="accepted"} 1.0' in metrics
    assert 'luciole_rejections_total{reason="bad_json"} 1.0' in metrics
    assert "luciole_broker_connected 1.0" in metrics


async def _get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(TIMEOUT_S):
        answer = await reader.read()
    writer.close()
    return answer.decode()


async def test_override_topic_sets_a_street_and_refuses_nonsense(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """An override on the topic sets every segment of the street; a bad one is dead-lettered."""
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        await client.subscribe(f"{lamps.root}/deadletter", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            override = json.dumps({"level": 0.8, "duration_s": 600})
            await client.publish(f"{lamps.root}/override/main", override, qos=1)
            await lamps.until(lambda: all(c["level"] == 0.8 for c in lamps.latest.values()))
            assert {c["reason"] for c in lamps.latest.values()} == {"override"}
            await client.publish(f"{lamps.root}/override/nowhere", override, qos=1)
            await lamps.until(lambda: len(lamps.deadletters) == 1)
            assert lamps.deadletters[0]["reason"] == "invalid_override"
            assert "unknown override target 'nowhere'" in str(lamps.deadletters[0]["detail"])
