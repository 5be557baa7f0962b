"""What the lighting builds up outlives a `kill -9`: an operator's override (stored with its
message) and a lamp's alert (stored as it changes), restored at start-up, not redelivered:
the daemon comes back under another MQTT session."""

import json
import signal
import time
import uuid
from pathlib import Path

import aiomqtt

from gateway.lighting import persist
from gateway.store.spool import Spool
from tests.conftest import BrokerInfo
from tests.e2e.support import (
    Alerts,
    Lamps,
    running_daemon,
    stderr_until,
    until_handled,
    write_site,
)


async def test_an_override_survives_a_kill_and_the_lamp_command_is_unchanged(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    site_id = f"state-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site, log_level="debug") as daemon:
            await stderr_until(daemon, "connected")
            await lamps.until(lambda: len(lamps.latest) == 5)
            override = json.dumps({"level": 0.8, "duration_s": 3600})
            await client.publish(f"{lamps.root}/override/s3", override, qos=1)
            await lamps.until(lambda: lamps.latest["s3"]["reason"] == "override")
            before = dict(lamps.latest["s3"])
            # The batch with the override's record and state (2 rows) is committed and acked.
            while "rows=2" not in await stderr_until(daemon, "committed"):
                pass
            daemon.kill()  # SIGKILL: nothing flushed, nothing said
            await daemon.wait()
        # Another MQTT session: nothing is redelivered, what comes back comes from the spool.
        text = site.read_text().replace(f"client_id: gw-{site_id}", f"client_id: gw2-{site_id}")
        site.write_text(text)
        lamps.latest.clear()
        async with running_daemon(site) as daemon:
            restored = await stderr_until(daemon, "lighting restored")
            assert "overrides=1" in restored
            await lamps.until(lambda: "s3" in lamps.latest)  # every lamp is told on connecting
            after = lamps.latest["s3"]
            assert (after["level"], after["reason"]) == (before["level"], before["reason"])
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")


async def test_a_lamp_alert_survives_a_kill_and_is_neither_forgotten_nor_raised_again(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """A lamp that says it failed raises lamp_failure; killed and restarted under another
    MQTT session (its report is not sent again), the daemon raises nothing new, and the lamp
    reporting ok again ends the alert that began before the kill."""
    site_id = f"lampalert-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        alerts = Alerts(client, f"luciole/{site_id}")
        await client.subscribe(f"luciole/{site_id}/alert/#", qos=1)
        state = f"luciole/{site_id}/lamp/s2/state"
        async with running_daemon(site, log_level="debug") as daemon:
            await stderr_until(daemon, "connected")
            failed = {"level": 0.0, "power_w": 0.0, "status": "failed", "ts": time.time()}
            await client.publish(state, json.dumps(failed), qos=1)
            raised = await alerts.until("lamp_failure", True)
            while "rows=" not in await stderr_until(daemon, "lighting rows stored"):
                pass
            daemon.kill()
            await daemon.wait()
        text = site.read_text().replace(f"client_id: gw-{site_id}", f"client_id: gw2-{site_id}")
        site.write_text(text)
        async with running_daemon(site) as daemon:
            assert "active=1" in await stderr_until(daemon, "lamp alerts restored")
            await stderr_until(daemon, "connected")
            ok = {"level": 0.3, "power_w": 12.0, "status": "ok", "ts": time.time()}
            await client.publish(state, json.dumps(ok), qos=1)
            ended = await alerts.until("lamp_failure", False)
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
        assert not [b for _, b in alerts.seen if b["type"] == "lamp_failure" and b["active"]]
        assert ended["segment"] == raised["segment"] == "s2"


async def test_walkers_counted_before_a_stop_are_in_the_flows_after_it(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """The flows are stored at most every 10 s while walkers are counted, and at the stop:
    walkers counted seconds after the last stored flows are in the flows the next run
    restores."""
    site_id = f"flows-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    topic = f"luciole/{site_id}/sensor/pedestrian/counter-2"
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "connected")
            await client.publish(topic, json.dumps({"count": 3, "period_s": 60}), qos=1)
            await lamps.until(lambda: lamps.latest.get("s2", {}).get("reason") == "presence")
            await client.publish(topic, json.dumps({"count": 4, "period_s": 60}), qos=1)
            await until_handled(client, lamps, topic)  # the second batch: not stored yet
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
        spool = Spool(tmp_path / "spool" / "luciole.db")
        flows = json.loads(spool.state(persist.ROOM)[persist.FLOWS])
        spool.close()
        assert sum(flows["counts"]["s2"]) == 7
        async with running_daemon(site) as daemon:
            assert "flows=True" in await stderr_until(daemon, "lighting restored")
            daemon.send_signal(signal.SIGTERM)
            await stderr_until(daemon, "stopped")
