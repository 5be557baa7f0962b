"""Recording what the gateway receives into a trace, and playing a trace back to a broker.

The recorder listens to what the daemon listens to (its sources without the `$share/` group,
which would take messages away from the daemon, and the override topics) plus the lamp
commands it sends, so a replay can be checked against them. The file format is
`gateway.wire.trace`.
"""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import aiomqtt

from controllers.settings import SiteConfig
from gateway.ingest.intake import Intake
from gateway.mqtt.client import tool_client
from gateway.wire.clock import Clock
from gateway.wire.topics import Topics
from gateway.wire.trace import Record, header_line, read_trace


def recorded_filters(site: SiteConfig) -> list[str]:
    """The topic filters a recorder subscribes to for `site`."""
    topics = Topics(site.broker.topic_prefix, site.site.id)
    sources = [route.filter for route in Intake(site).routes]
    return [*dict.fromkeys([*sources, topics.overrides, topics.lamp_set("+")])]


class Recorder:
    """Subscribes like the daemon and appends every message to a trace file."""

    def __init__(self, site: SiteConfig, clock: Clock, out: IO[str]) -> None:
        self.site = site
        self._clock = clock
        self._out = out
        self.count = 0
        self.ready = asyncio.Event()

    async def run(self, client: aiomqtt.Client, until: Callable[[], bool] = lambda: False) -> None:
        """Record until cancelled (or `until()` says so after a message)."""
        self._out.write(header_line(self.site, self._clock.now()) + "\n")
        await client.subscribe([(f, 1) for f in recorded_filters(self.site)])
        self.ready.set()
        async for message in client.messages:
            payload = message.payload
            body = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
            record = Record(self._clock.now(), str(message.topic), body)
            self._out.write(record.to_json() + "\n")
            self.count += 1
            if until():
                return


async def replay_to_broker(
    records: Iterator[Record],
    client: aiomqtt.Client,
    speed: float,
    commands_topic: Callable[[str], bool],
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> int:
    """Publish the recorded inputs (not the recorded lamp commands) with their recorded spacing
    divided by `speed` (0: as fast as possible); returns how many were sent."""
    sent = 0
    first_t: float | None = None
    loop = asyncio.get_running_loop()
    began = loop.time()
    for record in records:
        if commands_topic(record.topic):
            continue
        first_t = record.t if first_t is None else first_t
        if speed > 0:
            wait_s = (record.t - first_t) / speed - (loop.time() - began)
            if wait_s > 0:
                await sleep(wait_s)
        await client.publish(record.topic, record.payload, qos=1)
        sent += 1
    return sent


async def record_to_file(
    site: SiteConfig, base: Path, path: Path, clock: Clock, duration_s: float | None
) -> int:
    """`luciole record`: record into `path` for `duration_s` (or until cancelled); `base` is
    the site file's folder (credential and TLS files are relative to it)."""
    with path.open("w", encoding="utf-8") as out:
        recorder = Recorder(site, clock, out)
        async with tool_client(site.broker, base, "record") as client:
            try:
                async with asyncio.timeout(duration_s):
                    await recorder.run(client)
            except TimeoutError:
                pass
    return recorder.count


async def replay_file(site: SiteConfig, base: Path, path: Path, speed: float) -> int:
    """`luciole replay TRACE`: publish a trace's inputs to the site's broker."""
    if speed < 0:
        raise ValueError(f"--speed must be ≥ 0 (got {speed})")
    topics = Topics(site.broker.topic_prefix, site.site.id)
    _, records = read_trace(path)
    async with tool_client(site.broker, base, "replay") as client:
        return await replay_to_broker(
            records, client, speed, lambda t: t.startswith(f"{topics.root}/lamp/")
        )
