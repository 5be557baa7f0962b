"""The console's JSON API on the real daemon and broker: the state it shows, an override set
and cleared through it reaching the lamps, acknowledgements kept across a restart, and every
action refused without the token."""

import uuid
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from gateway.mqtt.broker import free_port
from gateway.store.spool import Spool
from tests.conftest import BrokerInfo
from tests.e2e.support import Lamps, running_daemon, stderr_until, write_site

TOKEN = "s3cret-console-token"


async def test_the_console_api_acts_on_the_lamps_and_refuses_without_the_token(
    tmp_path: Path, broker: BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_id = f"console-{uuid.uuid4().hex[:8]}"
    port = free_port()
    console = f"console: {{port: {port}, token_env: LUCIOLE_TEST_CONSOLE_TOKEN}}\n"
    site = write_site(tmp_path, broker, site_id, "30%", console)
    monkeypatch.setenv("LUCIOLE_TEST_CONSOLE_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client,
        aiohttp.ClientSession() as http,
    ):
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await stderr_until(daemon, "console serving")
            await lamps.until(lambda: len(lamps.latest) == 5)
            async with http.get(f"{url}/api/state") as response:
                state = await response.json()
            assert [s["id"] for s in state["segments"]] == ["s1", "s2", "s3", "s4", "s5"]
            assert state["site"]["id"] == site_id and state["broker"]["connected"] is True
            body = {"target": "s3", "level": "80%", "duration_s": "30m"}
            async with http.post(f"{url}/api/overrides", json=body) as response:
                assert response.status == 401  # no token: nothing changes
            async with http.post(f"{url}/api/overrides", json=body, headers=bearer) as response:
                assert response.status == 200, await response.text()
            await lamps.until(lambda: lamps.latest["s3"]["reason"] == "override")
            assert lamps.latest["s3"]["level"] == 0.8
            async with http.get(f"{url}/api/state") as response:
                (override,) = (await response.json())["overrides"]
            assert override["segment"] == "s3" and override["level"] == pytest.approx(0.8)
            async with http.post(
                f"{url}/api/overrides", json={"target": "nowhere", "level": 0.5}, headers=bearer
            ) as response:
                refused = await response.json()
                assert response.status == 404 and refused["error"] == "invalid_override"
            async with http.delete(f"{url}/api/overrides/s3", headers=bearer) as response:
                assert response.status == 200
            await lamps.until(lambda: lamps.latest["s3"]["reason"] == "schedule")
            assert lamps.latest["s3"]["level"] == 0.3
            async with http.post(f"{url}/api/alerts/water_leak:meter-1/ack", headers=bearer) as r:
                assert r.status == 404 and (await r.json())["error"] == "unknown_alert"
    spool = Spool(tmp_path / "spool" / "luciole.db")
    stored = [row for _, row in spool.unwritten(10_000) if row["kind"] == "override"]
    spool.close()
    assert [(r["target"], r["verdict"]) for r in stored] == [
        ("s3", "applied"),
        ("nowhere", "refused"),
        ("s3", "applied"),
    ], "every action stored, with who asked"
    assert all(r["sender"] for r in stored)
