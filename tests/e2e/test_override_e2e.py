"""`luciole override` against a running daemon through a real broker."""

import uuid
from pathlib import Path

import aiomqtt

from tests.conftest import BrokerInfo
from tests.e2e.support import Lamps, run_override, running_daemon, write_site


async def test_override_command_sets_and_clears_a_street(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """`override main 80% --for 30m` lights the street at 0.8; `--clear` returns it to 0.3."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            code, out = await run_override(site, "main", "80%", "--for", "30m")
            assert (code, out.strip()) == (
                0,
                f"override sent on {lamps.root}/override/main: level 80% for 1800 s",
            )
            await lamps.until(lambda: all(c["level"] == 0.8 for c in lamps.latest.values()))
            assert {c["reason"] for c in lamps.latest.values()} == {"override"}
            code, out = await run_override(site, "main", "--clear")
            assert code == 0, out
            await lamps.until(lambda: all(c["level"] == 0.3 for c in lamps.latest.values()))
            assert {c["reason"] for c in lamps.latest.values()} == {"schedule"}
