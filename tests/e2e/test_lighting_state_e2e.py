"""An operator's override outlives a `kill -9`: stored with its message, restored at start-up
(not redelivered: the daemon comes back under another MQTT session), the lamps told the same."""

import json
import signal
import uuid
from pathlib import Path

import aiomqtt

from tests.conftest import BrokerInfo
from tests.e2e.support import Lamps, running_daemon, stderr_until, write_site


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
