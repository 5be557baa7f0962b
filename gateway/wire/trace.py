"""Traces: what the gateway receives, as JSON lines: the file format and its reader.

A trace starts with a header line (`{"trace": "luciole", "version": 1, "site": .., "start_s":
..}`) followed by one line per message: receive time `t` (epoch seconds), `topic`, and the
payload as `payload` (UTF-8 text) or `payload_b64` (anything else). `gateway.mqtt.recorder`
writes them from a broker and plays them back to one; offline replay lives in the simulator
(`sim.runs.replay`).
"""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from controllers.settings import SiteConfig

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
