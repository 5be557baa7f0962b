"""The daemon's lamp feedback, energy accounting and file watching, through a real broker."""

import asyncio
import json
import uuid
from pathlib import Path

import aiomqtt

from gateway.store.spool import Spool
from tests.conftest import BrokerInfo
from tests.e2e.support import TIMEOUT_S, Lamps, running_daemon, stderr_until, write_site

POLICY = (
    "schedule: {{night_level: {level}}}\n"
    "presence: {{level: 100%, hold_s: 10m, lookahead_segments: 1}}\n"
    "alerts: {{delay_s: 0s, tolerance: 5%}}\n"
)


async def test_a_stuck_lamp_raises_a_retained_alert_that_is_stored(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """A lamp reporting full light when told 30 % gets dimming_failure on its alert topic,
    retained, and the alert and the energy rows are in the spool after the stop."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    (tmp_path / "policy.yaml").write_text(POLICY.format(level="30%"))
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            ramp_done = {"level": 1.0, "power_w": 40.0, "status": "ok", "ts": 0}
            await client.subscribe(f"{lamps.root}/alert/#", qos=1)
            await client.publish(f"{lamps.root}/lamp/s3/state", json.dumps(ramp_done), qos=1)
            await lamps.until(lambda: "dimming_failure" in lamps.latest)
            alert = lamps.latest["dimming_failure"]
            assert (alert["segment"], alert["active"], alert["actual"]) == ("s3", True, 1.0)
            assert alert["commanded"] == 0.3
            await client.publish(f"{lamps.root}/lamp/nowhere/state", json.dumps(ramp_done), qos=1)
            await stderr_until(daemon, "message rejected")
        async with aiomqtt.Client(broker.host, broker.port, identifier=f"r-{site_id}") as late:
            await late.subscribe(f"{lamps.root}/alert/dimming_failure/s3", qos=1)
            async with asyncio.timeout(TIMEOUT_S):
                retained = json.loads(bytes((await anext(late.messages)).payload))
            assert retained["active"] is True
    rows = Spool(tmp_path / "spool" / "luciole.db").between(0, float("inf"), 1000)
    by_kind: dict[str, list[dict[str, object]]] = {}
    for _, row in rows:
        by_kind.setdefault(str(row["kind"]), []).append(row)
    assert [(r["segment"], r["type"], r["active"]) for r in by_kind["alert"]] == [
        ("s3", "dimming_failure", True)
    ]
    segments = {r["segment"] for r in by_kind["energy"]}
    assert segments == {"s1", "s2", "s3", "s4", "s5", "all"}
    site_row = next(r for r in by_kind["energy"] if r["segment"] == "all")
    always_on_kwh, energy_kwh = site_row["always_on_kwh"], site_row["energy_kwh"]
    assert isinstance(always_on_kwh, int | float) and isinstance(energy_kwh, int | float)
    assert always_on_kwh >= energy_kwh > 0


async def test_an_edited_policy_file_is_reloaded_without_a_signal(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """Writing a new night level into policy.yaml reaches the lamps; a broken edit is refused
    and the running policy kept."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            (tmp_path / "policy.yaml").write_text("schedule: {night_levle: 40%}\n")
            refused = await stderr_until(daemon, "reload refused")
            assert "did you mean 'night_level'" in refused
            (tmp_path / "policy.yaml").write_text(POLICY.format(level="45%"))
            await stderr_until(daemon, "policy reloaded")
            await lamps.until(lambda: all(c["level"] == 0.45 for c in lamps.latest.values()))
