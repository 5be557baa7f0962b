"""The dead-letter file: refused messages, with topic, reason and a bounded excerpt, as JSONL.

Operators read it to answer "why was my sensor's message refused?"; it rotates by size so a
sensor that sends garbage all night cannot fill the gateway's disk. A record never copies a
large payload: it keeps the first `EXCERPT_BYTES` with the payload's `size` and `sha256`
(enough to recognise it and match the sender's copy). Whole payloads made records of any size,
which rotation cannot bound: a 10 MB binary payload became a 62.9 MB line (base64, then JSON
escaping). Here a record is at most about 7 KiB (a kibibyte of control bytes escaped six to
one, a topic and a detail clipped). The file is created 0600 in a 0700 folder
(`gateway.store.private`).
"""

import hashlib
import json
import os
from base64 import b64encode
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from gateway.store.private import open_private, private_folder

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
EXCERPT_BYTES = 1024  # a native reading is ~150 bytes: every normal payload is kept whole
TOPIC_CHARS = 256  # MQTT allows 64 KiB topics; a device's is well under 100 characters
DETAIL_CHARS = 512
_UTF8_LONGEST = 4


class Excerpt(NamedTuple):
    """What is kept of a payload: its first bytes, its size and its SHA-256 (hex)."""

    head: bytes
    size: int
    sha256: str


def excerpt(payload: bytes) -> Excerpt:
    """The excerpt of a payload held whole in memory."""
    return Excerpt(payload[:EXCERPT_BYTES], len(payload), hashlib.sha256(payload).hexdigest())


def letter(
    topic: str, reason: str, detail: str, payload: bytes | Excerpt, received_s: float
) -> dict[str, object]:
    """The record written to the file and to the dead-letter topic."""
    kept = payload if isinstance(payload, Excerpt) else excerpt(payload)
    head = kept.head[:EXCERPT_BYTES]
    body: dict[str, object] = {
        "received": received_s,
        "topic": topic[:TOPIC_CHARS],
        "reason": reason,
        "detail": detail[:DETAIL_CHARS],
        "size": kept.size,
        "sha256": kept.sha256,
    }
    text = _text(head, whole=len(head) == kept.size)
    if text is not None:
        body["payload"] = text
    else:
        body["payload_base64"] = b64encode(head).decode("ascii")
    if len(head) < kept.size:
        body["truncated"] = True
    return body


def _text(head: bytes, whole: bool) -> str | None:
    """`head` as UTF-8 text, or None; a character cut by the excerpt's end is left out."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        cut = not whole and error.start >= len(head) - _UTF8_LONGEST + 1
        if cut and error.reason == "unexpected end of data":
            return head[: error.start].decode("utf-8")
        return None


class DeadLetterFile:
    """Appends one JSON line per refused message; `path.1` … `path.N` keep the older ones."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        private_folder(path.parent)
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups

    def write(self, record: dict[str, object]) -> None:
        self.write_many([record])

    def write_many(self, records: Iterable[dict[str, object]]) -> None:
        """Append records in order, rotating when the next line would pass the size limit
        (blocking: the daemon calls it in a worker thread, once per batch of messages)."""
        fd = open_private(self.path)
        try:
            for record in records:
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                size = os.fstat(fd).st_size
                if size and size + len(line) > self._max_bytes:
                    os.close(fd)
                    self._rotate()
                    fd = open_private(self.path)
                os.write(fd, line)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        for index in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
