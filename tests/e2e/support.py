"""Helpers for end-to-end tests: a night-time site, the daemon as a subprocess, lamp watching."""

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from controllers.schedule import AstronomicalClock
from sim.world.places import midnight_longitude
from tests.conftest import BrokerInfo

# How long any one awaited event may take: a guard against a hang, never a measure of speed.
# The slowest events are a daemon's start on a loaded box (its imports alone take seconds)
# and a reconnect (backoff, after up to 5 s waiting for acknowledgements on the lost link).
TIMEOUT_S = 30.0


def write_site(
    folder: Path, broker: BrokerInfo, site_id: str, night_level: str, extra: str = ""
) -> Path:
    """A five-segment street where it is night now; `extra` is appended to the site file."""
    longitude, zone = midnight_longitude(time.time())
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
        "  meter-1: {kind: water, segment: s4}\n" + extra
    )
    write_policy(folder, night_level)
    return folder / "site.yaml"


def write_policy(folder: Path, night_level: str) -> None:
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
                body = json.loads(bytes(message.payload))
                if str(message.topic).endswith("/deadletter"):
                    self.deadletters.append(body)
                elif "/alert/" in str(message.topic):
                    self.latest[str(message.topic).split("/")[-2]] = body
                else:
                    self.latest[str(message.topic).split("/")[-2]] = body


class Alerts:
    """Every alert message on the site's topics, in arrival order."""

    def __init__(self, client: aiomqtt.Client, root: str) -> None:
        self.client, self.root = client, root
        self.seen: list[tuple[str, dict[str, object]]] = []

    async def until(self, kind: str, active: bool) -> dict[str, object]:
        """The next message (or one already seen) of `kind` with that `active`."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                for topic, body in self.seen:
                    if f"/alert/{kind}/" in topic and body["active"] is active:
                        self.seen.remove((topic, body))
                        return body
                message = await anext(self.client.messages)
                if str(message.topic).startswith(f"{self.root}/alert/"):
                    self.seen.append((str(message.topic), json.loads(bytes(message.payload))))


@asynccontextmanager
async def running_daemon(
    site: Path, log_level: str = "info", args: Sequence[str] = ()
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`luciole run` (with `args`, say `--role ingest`) in a subprocess; stopped with SIGTERM,
    which must exit 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "luciole.main",
        "run",
        "--config",
        str(site),
        "--log-level",
        log_level,
        *args,
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


async def stderr_until(process: asyncio.subprocess.Process, text: str) -> str:
    """Read the daemon's log until a message begins with `text`; that line.

    The message, not anywhere in the line: "connected" must not be taken from the error of a
    retry (`error="Disconnected during message iteration"`), nor "stopped" from "storage
    stopped". A text line is `{stamp} {level} {logger}: {message} {fields}`.
    """
    assert process.stderr is not None
    said: list[str] = []  # shown when it exits first: why it did
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            line = (await process.stderr.readline()).decode()
            if not line:
                pytest.fail(f"daemon exited before logging {text!r}; it said:\n{''.join(said)}")
            if line.partition(": ")[2].startswith(text):
                return line
            said = [*said[-30:], line]


async def until_handled(client: aiomqtt.Client, lamps: Lamps, topic: str) -> None:
    """Wait until the daemon has handled everything sent on `topic` so far.

    MQTT keeps order within one topic only, so the marker is sent on the same topic: a
    payload the daemon must refuse, whose dead-letter is the event to wait for. The order
    holds for what `client` sent and for what the broker acknowledged to any sender before.
    """
    await client.subscribe(f"{lamps.root}/deadletter", qos=1)
    await client.publish(topic, b'{"marker": "not a reading"}', qos=1)
    await lamps.until(lambda: any(d["topic"] == topic for d in lamps.deadletters))


async def run_override(site: Path, *args: str) -> tuple[int, str]:
    """`luciole override ARGS --config SITE` in a subprocess: its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "luciole.main",
        "override",
        *args,
        "--config",
        str(site),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(TIMEOUT_S):
        out, _ = await process.communicate()
    return process.returncode or 0, out.decode()
