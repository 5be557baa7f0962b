"""`luciole run` as a subprocess against a real broker: presence in, lamp commands out."""

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from controllers.schedule import AstronomicalClock
from tests.conftest import BrokerInfo

TIMEOUT_S = 15.0


def _dark_place(now_s: float) -> tuple[float, str]:
    """A longitude (and matching fixed-offset zone) where it is the middle of the night now."""
    utc_hour = (now_s % 86400) / 3600
    offset_h = round((24 - utc_hour) % 24)  # local solar midnight is where UTC+offset reads 00:00
    offset_h = offset_h - 24 if offset_h > 12 else offset_h
    zone = "UTC" if offset_h == 0 else f"Etc/GMT{-offset_h:+d}"  # Etc/ signs are inverted
    return offset_h * 15.0, zone


def _write_site(folder: Path, broker: BrokerInfo, site_id: str, night_level: str) -> Path:
    longitude, zone = _dark_place(time.time())
    assert AstronomicalClock(0.0, longitude, zone).is_lit(time.time(), 0, 0), "test needs night"
    segments = "\n".join(
        f"  - {{id: s{i}, street: main, order: {i}, length_m: 30, rated_power_w: 40}}"
        for i in range(1, 6)
    )
    (folder / "site.yaml").write_text(
        f"site: {{id: {site_id}, latitude: 0.0, longitude: {longitude}, timezone: {zone}}}\n"
        f"broker: {{url: '{broker.url}', client_id: gw-{site_id}}}\n"
        f"segments:\n{segments}\n"
        "devices:\n  counter-2: {kind: pedestrian, segment: s2}\n"
    )
    _write_policy(folder, night_level)
    return folder / "site.yaml"


def _write_policy(folder: Path, night_level: str) -> None:
    (folder / "policy.yaml").write_text(
        f"schedule: {{night_level: {night_level}}}\n"
        "presence: {level: 100%, hold_s: 10m, ramp_up_s: 1s, ramp_down_s: 5s, "
        "lookahead_segments: 1}\n"
    )


class Lamps:
    """The latest command each segment received, and a way to wait for a condition."""

    def __init__(self, client: aiomqtt.Client, site_id: str) -> None:
        self.client = client
        self.root = f"luciole/{site_id}"
        self.latest: dict[str, dict[str, object]] = {}
        self.deadletters: list[dict[str, object]] = []

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not done():
                message = await anext(self.client.messages)
                if not str(message.topic).startswith(f"{self.root}/"):
                    continue  # another test's retained message
                body = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                if str(message.topic).endswith("/deadletter"):
                    self.deadletters.append(body)
                else:
                    self.latest[str(message.topic).split("/")[-2]] = body


@asynccontextmanager
async def running_daemon(site: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`luciole run` in a subprocess; stopped with SIGTERM, which must exit 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "run", "--config", str(site), "--log-level", "info",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT_S):
            assert process.stderr is not None
            rest = await process.stderr.read()
            await process.wait()
        print(rest.decode(errors="replace"))  # shown by pytest when the test fails


async def _stderr_until(process: asyncio.subprocess.Process, text: str) -> str:
    """Read the daemon's log until a line contains `text`; that line."""
    assert process.stderr is not None
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:
                pytest.fail(f"daemon exited before logging {text!r}")
            if text in line:
                return line


@pytest.fixture
def site_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


async def test_presence_raises_segment_and_neighbour(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """A presence reading through the broker makes the daemon raise its segment and the next."""
    site = _write_site(tmp_path, broker, site_id, "30%")
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
            await _stderr_until(daemon, "stopped")
            async with asyncio.timeout(TIMEOUT_S):
                assert await daemon.wait() == 0


async def test_rejected_message_goes_to_deadletter(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """Bad JSON and unknown devices are refused with a reason, and the daemon keeps running."""
    site = _write_site(tmp_path, broker, site_id, "30%")
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
            presence = json.dumps({"count": 2})
            await client.publish(f"{lamps.root}/sensor/pedestrian/counter-2", presence)
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)


async def test_sighup_reload_keeps_old_policy_when_new_is_invalid(
    tmp_path: Path, broker: BrokerInfo, site_id: str
) -> None:
    """SIGHUP with a broken policy keeps the running one; with a valid one, applies it."""
    site = _write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"test-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            (tmp_path / "policy.yaml").write_text("presence: {hodl_s: 5s}\n")
            daemon.send_signal(signal.SIGHUP)
            refused = await _stderr_until(daemon, "reload refused")
            assert "did you mean 'hold_s'" in refused
            _write_policy(tmp_path, "55%")
            daemon.send_signal(signal.SIGHUP)
            await _stderr_until(daemon, "policy reloaded")
            await lamps.until(lambda: all(c["level"] == 0.55 for c in lamps.latest.values()))
