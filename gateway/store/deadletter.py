"""The dead-letter file: every refused message, with its topic, reason and payload, as JSONL.

Operators read it to answer "why was my sensor's message refused?"; it rotates by size so a
sensor that sends garbage all night cannot fill the gateway's disk.
"""

import json
from base64 import b64encode
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


def letter(
    topic: str, reason: str, detail: str, payload: bytes, received_s: float
) -> dict[str, object]:
    """The record written to the file and to the dead-letter topic."""
    body: dict[str, object] = {
        "received": received_s,
        "topic": topic,
        "reason": reason,
        "detail": detail,
    }
    try:
        body["payload"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        body["payload_base64"] = b64encode(payload).decode("ascii")
    return body


class DeadLetterFile:
    """Appends one JSON line per refused message; `path.1` … `path.N` keep the older ones."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups

    def write(self, record: dict[str, object]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if self.path.exists() and self.path.stat().st_size + len(line) > self._max_bytes:
            self._rotate()
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)

    def _rotate(self) -> None:
        for index in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
