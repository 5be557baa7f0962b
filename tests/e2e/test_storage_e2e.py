"""The daemon with a real VictoriaMetrics behind it: stopped under load, nothing is lost."""

import json
import signal
import time
import uuid
from pathlib import Path

import aiomqtt

from gateway.store.spool import Spool
from tests.conftest import BrokerInfo, Victoria
from tests.e2e.support import Lamps, running_daemon, stderr_until, until_handled, write_site


async def test_database_outage_under_load_loses_nothing(
    tmp_path: Path, broker: BrokerInfo, victoria: Victoria
) -> None:
    """Readings keep coming while the database is down: the spool holds them, then drains."""
    site_id = f"store-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%", f"influx: {{url: '{victoria.url}'}}\n")
    total, base_s = 400, time.time() - 3600
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "connected")
            for seq in range(total):
                if seq == total // 4:
                    victoria.stop()
                if seq == 3 * total // 4:
                    victoria.start()
                body = {"total_m3": 10 + seq / 100, "seq": seq, "ts": base_s + seq}
                await client.publish(f"{lamps.root}/sensor/water/meter-1", json.dumps(body), qos=1)
            await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
            await until_handled(client, lamps, f"{lamps.root}/sensor/water/meter-1")
            daemon.send_signal(signal.SIGTERM)  # commits what it received, then a last drain
            await stderr_until(daemon, "storage stopped")
    assert Spool(tmp_path / "spool" / "luciole.db").stats().unwritten == 0
    assert victoria.count("water_total_m3") == total
