"""The durable spool: accepted readings are committed here before their MQTT message is acked.

SQLite in WAL mode with `synchronous=FULL`: a committed reading survives `kill -9` and a power
cut. Each reading carries the key that identifies its uplink (a device's sequence number, a
LoRaWAN deduplication id) and its place in it; a UNIQUE index makes a redelivered message
(acked too late, before a crash) a no-op instead of a duplicate. The storage writer reads
unwritten rows in id order and marks them written; with no database configured, the rows are
the local history.

Blocking calls: the daemon runs them in a worker thread (`asyncio.to_thread`), one at a time.
"""

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.readings import Reading

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    ts_s REAL NOT NULL,
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL,
    uplink TEXT,
    ordinal INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    written INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS readings_uplink ON readings (device_id, uplink, ordinal);
CREATE INDEX IF NOT EXISTS readings_unwritten ON readings (written, id);
"""


@dataclass(frozen=True)
class Spooled:
    """One reading to store, with the key of the uplink it came from (None: no key known) and
    its place among that uplink's readings (a frame may carry several)."""

    reading: Reading
    uplink: str | None
    ordinal: int = 0


Row = tuple[float, str, str, str | None, int, str]


@dataclass(frozen=True)
class SpoolStats:
    rows: int
    unwritten: int
    oldest_unwritten_ts_s: float | None
    size_bytes: int


class Spool:
    """One SQLite file; safe to call from one worker thread at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # durable at commit, even on power loss
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, items: Sequence[Spooled]) -> int:
        """Commit `items` in one transaction; how many were new (repeats are ignored)."""
        return self.append_rows(rows(items))

    def append_rows(self, prepared: Sequence[Row]) -> int:
        """`append` for rows already made by `rows()`: the part that may run in a worker
        thread, since sqlite3 releases the GIL while it works and the serialising is done."""
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO readings "
                    "(ts_s, kind, device_id, uplink, ordinal, body) VALUES (?, ?, ?, ?, ?, ?)",
                    prepared,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def unwritten(self, limit: int) -> list[tuple[int, dict[str, object]]]:
        """The oldest rows not yet in the database: (row id, reading as a dict with `kind`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, body FROM readings WHERE written = 0 ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [(row_id, {"kind": kind, **json.loads(body)}) for row_id, kind, body in rows]

    def mark_written(self, row_ids: Sequence[int]) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE readings SET written = 1 WHERE id = ?", [(i,) for i in row_ids]
            )

    def stats(self) -> SpoolStats:
        with self._lock:
            rows, unwritten, oldest = self._db.execute(
                "SELECT COUNT(*), SUM(written = 0), MIN(CASE WHEN written = 0 THEN ts_s END) "
                "FROM readings"
            ).fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(f"{self.path.name}*"))
        return SpoolStats(rows, unwritten or 0, oldest, size)


def rows(items: Sequence[Spooled]) -> list[Row]:
    """Spooled readings as table rows (JSON body included)."""
    return [
        (
            item.reading.ts_s,
            _kind(item.reading),
            item.reading.device_id,
            item.uplink,
            item.ordinal,
            item.reading.model_dump_json(),
        )
        for item in items
    ]


def _kind(reading: Reading) -> str:
    return type(reading).__name__.removesuffix("Reading").lower()
