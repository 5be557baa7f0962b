"""Traces: what the gateway receives, recorded as JSON lines, and played back to a broker.

A trace starts with a header line (`{"trace": "luciole", "version": 1, "site": .., "start_s":
..}`) followed by one line per message: receive time `t` (epoch seconds), `topic`, and the
payload as `payload` (UTF-8 text) or `payload_b64` (anything else). The recorder listens to
what the daemon listens to (its sources without the `$share/` group, which would take
messages away from the daemon, and the override topics) plus the lamp commands it sends, so a
replay can be checked against them. Offline replay lives in the simulator (`sim.replay`).
"""

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiomqtt

from controllers.settings import SiteConfig
from gateway.clock import Clock
from gateway.intake import Intake
from gateway.mqtt import tool_client
from gateway.topics import Topics

VERSION = 1


class TraceError(ValueError):
    """A trace line that cannot be read, with its line number."""


@dataclass(frozen=True)
class Record:
    """One message of a trace."""

    t: float
    topic: str
    payload: bytes

    def to_json(self) -> str:
        try:
            body: dict[str, Any] = {"payload": self.payload.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"payload_b64": base64.b64encode(self.payload).decode()}
        return json.dumps({"t": round(self.t, 6), "topic": self.topic, **body})


@dataclass(frozen=True)
class Header:
    site: str
    start_s: float


def recorded_filters(site: SiteConfig) -> list[str]:
    """The topic filters a recorder subscribes to for `site`."""
    topics = Topics(site.broker.topic_prefix, site.site.id)
    sources = [route.filter for route in Intake(site).routes]
    return [*dict.fromkeys([*sources, topics.overrides, topics.lamp_set("+")])]


def header_line(site: SiteConfig, start_s: float) -> str:
    return json.dumps(
        {"trace": "luciole", "version": VERSION, "site": site.site.id, "start_s": start_s}
    )


def read_trace(path: Path) -> tuple[Header | None, Iterator[Record]]:
    """The header (if any) and the records of a trace file, lazily."""
    handle = path.open(encoding="utf-8")
    first = handle.readline()
    header = None
    try:
        data = json.loads(first) if first.strip() else None
    except ValueError as error:
        handle.close()
        raise TraceError(f"{path}:1: not JSON ({error})") from None
    if isinstance(data, dict) and data.get("trace") == "luciole":
        header = Header(str(data.get("site", "")), float(data.get("start_s", 0.0)))
        start = 2
    else:
        handle.seek(0)
        start = 1
    return header, _records(path, handle, start)


def _records(path: Path, handle: IO[str], start: int) -> Iterator[Record]:
    with handle:
        for number, line in enumerate(handle, start=start):
            if line.strip():
                yield parse_record(line, f"{path}:{number}")


def parse_record(line: str, where: str) -> Record:
    """One trace line; TraceError says what is wrong with it."""
    try:
        data = json.loads(line)
        t, topic = float(data["t"]), str(data["topic"])
        if "payload_b64" in data:
            payload = base64.b64decode(data["payload_b64"], validate=True)
        else:
            payload = str(data["payload"]).encode("utf-8")
    except (ValueError, KeyError, TypeError) as error:
        raise TraceError(f"{where}: not a trace record ({error!r:.80})") from None
    return Record(t, topic, payload)


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
