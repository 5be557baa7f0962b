"""Two districts of one city, two daemons on one broker: each commands its own lamps only,
leaves the other's counters and streets alone, and an override on `all` reaches both."""

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path

import aiomqtt

from controllers.schedule import AstronomicalClock
from sim.world.places import midnight_longitude
from tests.conftest import BrokerInfo
from tests.e2e.support import (
    TIMEOUT_S,
    Lamps,
    run_override,
    running_daemon,
    stderr_until,
    write_policy,
)

NORTH = {"n1", "n2", "n3"}
SOUTH = {"s1", "s2", "s3"}


def _write_city(folder: Path, broker: BrokerInfo, site_id: str) -> Path:
    """Two streets where it is night now, a counter on each, one district each."""
    longitude, zone = midnight_longitude(time.time())
    assert AstronomicalClock(0.0, longitude, zone).is_lit(time.time(), 0, 0), "test needs night"
    segments = "\n".join(
        f"  - {{id: {segment}, street: {street}, order: {order}, length_m: 30, rated_power_w: 40}}"
        for street, names in (("north-st", sorted(NORTH)), ("south-st", sorted(SOUTH)))
        for order, segment in enumerate(names)
    )
    (folder / "site.yaml").write_text(
        f"site: {{id: {site_id}, latitude: 0.0, longitude: {longitude}, timezone: {zone}}}\n"
        f"broker: {{url: '{broker.url}', client_id: gw-{site_id}}}\n"
        f"segments:\n{segments}\n"
        "devices:\n  counter-n: {kind: pedestrian, segment: n1}\n"
        "  counter-s: {kind: pedestrian, segment: s1}\n"
        "districts:\n  north: {streets: [north-st]}\n  south: {streets: [south-st]}\n"
    )
    write_policy(folder, "30%")
    return folder / "site.yaml"


async def _log_until_stopped(daemon: asyncio.subprocess.Process) -> list[str]:
    """SIGTERM, then every line the daemon logs until it has stopped."""
    daemon.send_signal(signal.SIGTERM)
    assert daemon.stderr is not None
    async with asyncio.timeout(TIMEOUT_S):
        rest = await daemon.stderr.read()  # to its end: the daemon has exited
    return rest.decode().splitlines()


def _commanded(lines: list[str]) -> set[str]:
    """The segments a daemon's debug log says it commanded."""
    return {
        field.removeprefix("segment=")
        for line in lines
        if ": lamp command " in line
        for field in line.split()
        if field.startswith("segment=")
    }


async def test_two_districts_command_their_own_lamps_and_both_take_all(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """North's walker lights north only; `override all` lights both; no daemon refuses
    the other's counter or commands the other's lamps."""
    site_id = f"districts-{uuid.uuid4().hex[:8]}"
    site = _write_city(tmp_path, broker, site_id)
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with (
            running_daemon(site, "debug", ("--district", "north")) as north,
            running_daemon(site, "debug", ("--district", "south")) as south,
        ):
            await stderr_until(north, "connected")
            await stderr_until(south, "connected")
            await lamps.until(lambda: set(lamps.latest) == NORTH | SOUTH)
            walker = json.dumps({"count": 1, "period_s": 1})
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-n", walker, qos=1)
            nobody = json.dumps({"count": 0, "period_s": 1})  # south's: north must leave it
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-s", nobody, qos=1)
            await lamps.until(lambda: lamps.latest["n1"]["reason"] == "presence")
            assert {lamps.latest[s]["reason"] for s in SOUTH} == {"schedule"}
            code, out = await run_override(site, "all", "90%", "--for", "30m")
            assert code == 0, out
            await lamps.until(lambda: all(c["reason"] == "override" for c in lamps.latest.values()))
            north_log, south_log = await _log_until_stopped(north), await _log_until_stopped(south)
    assert _commanded(north_log) == NORTH and _commanded(south_log) == SOUTH
    for log in (north_log, south_log):
        stopped = next(line for line in log if ": stopped " in line)
        assert "rejected_" not in stopped, stopped  # the other's counter was left, not refused
        assert any(": override applied " in line for line in log)
    assert "accepted=1" in next(line for line in south_log if ": stopped " in line)
