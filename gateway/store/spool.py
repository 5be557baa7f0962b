"""The durable spool: accepted readings are committed here before their MQTT message is acked.

SQLite in WAL mode with `synchronous=FULL`: a committed reading survives `kill -9` and a power
cut. Each reading carries the key that identifies its uplink (a device's sequence number, a
LoRaWAN deduplication id) and its place in it; a UNIQUE index makes a redelivered message
(acked too late, before a crash) a no-op instead of a duplicate. The storage writer reads
unwritten rows in id order and marks each batch written in one transaction once the database
has it; with no database configured, the rows are the local history.

The spool is bounded by `enforce(quota_bytes, retention_s, now_s)`, which the daemon calls
now and then. Its policy, in order:
(a) rows already written to the database and older than `retention_s` are deleted (None: the
    written rows are kept as local history until the quota needs their room);
(b) when the files (the database and its `-wal`) exceed `quota_bytes`, written rows are deleted,
    oldest first, until what the rows occupy fits;
(c) only if still over quota are unwritten rows deleted, oldest first: the database has been
    unreachable for too long and the disk is full, so the oldest readings are the ones lost;
    their count is returned for the daemon to log loudly;
then the freed pages are given back (`PRAGMA incremental_vacuum`, only when something was
deleted) and the WAL is checkpointed and truncated. "Oldest" is by reading time, not arrival.
Files are created with `auto_vacuum=INCREMENTAL`; SQLite only applies it to a new file, so a
spool created by an earlier version keeps its size and reuses its freed pages instead (run
`VACUUM` on it once, daemon stopped, to convert it). The quota is then still honoured for the
rows, which is what (b) and (c) measure. The time index that (a), (b), (c) and `between` use
is built when an older file is first opened (a one-time cost, proportional to its rows).

Blocking calls: the daemon runs them in a worker thread (`asyncio.to_thread`), one at a time.
"""

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, get_args

from gateway.ingest.readings import Reading, Spooled
from gateway.store.private import private_file

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
CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts_s);
CREATE TABLE IF NOT EXISTS state (
    room TEXT NOT NULL,
    key TEXT NOT NULL,
    ts_s REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (room, key)
);
"""
# Rows of this kind are not readings: they are the latest state of one thing (a bin's cycle, a
# meter's hours), replaced in the `state` table by the same transaction that stores the readings
# that changed it, so that after a `kill -9` the state and the readings agree.
STATE = "state"
_INSERT = (
    "INSERT OR IGNORE INTO readings "
    "(ts_s, kind, device_id, uplink, ordinal, body) VALUES (?, ?, ?, ?, ?, ?)"
)
_REPLACE_STATE = "INSERT OR REPLACE INTO state (room, key, ts_s, body) VALUES (?, ?, ?, ?)"
# Rows deleted per pass while shedding for the quota is at least this, so that a spool whose
# pages free up slowly still converges in a few passes.
_MIN_SHED_ROWS = 64


class SpoolRow(NamedTuple):
    """One row of the readings table as it is inserted (a tuple, so `executemany` takes a list
    of them as it is): the time, the measurement, the device, the uplink key (None: no key
    known) and the reading's place in that uplink, and the reading as JSON."""

    ts_s: float
    kind: str
    device_id: str
    uplink: str | None
    ordinal: int
    body: str


@dataclass(frozen=True)
class SpoolStats:
    rows: int
    unwritten: int
    oldest_unwritten_ts_s: float | None
    size_bytes: int


@dataclass(frozen=True)
class Enforced:
    """What one `Spool.enforce()` deleted, and the files' size afterwards."""

    rows_deleted_written: int
    rows_deleted_unwritten: int  # readings lost before reaching the database: log it loudly
    size_bytes: int


class Spool:
    """One SQLite file; safe to call from one worker thread at a time."""

    def __init__(self, path: Path) -> None:
        private_file(path)  # 0600 in a 0700 folder: raw readings (its -wal, -shm follow it)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Must come before WAL mode: switching to WAL writes the file's header, after which a new
        # file no longer takes a vacuum mode. No effect on an existing file (module docstring).
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # durable at commit, even on power loss
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, items: Sequence[Spooled]) -> int:
        """Commit `items` in one transaction; how many were new (repeats are ignored)."""
        return self.append_rows(rows(items))

    def append_rows(self, prepared: Sequence[SpoolRow]) -> int:
        """`append` for rows already made by `rows()`: the part that may run in a worker
        thread, since sqlite3 releases the GIL while it works and the serialising is done."""
        readings = [row for row in prepared if row.kind != STATE]
        states = [(r.uplink, r.device_id, r.ts_s, r.body) for r in prepared if r.kind == STATE]
        statements = [(_INSERT, readings)] + ([(_REPLACE_STATE, states)] if states else [])
        return self._many_statements(statements)

    def state(self, room: str) -> dict[str, str]:
        """The stored state rows of `room` (see `state_row`): key → body."""
        with self._lock:
            found = self._db.execute(
                "SELECT key, body FROM state WHERE room = ?", (room,)
            ).fetchall()
        return dict(found)

    def unwritten(self, limit: int) -> list[tuple[int, dict[str, object]]]:
        """The oldest rows not yet in the database: (row id, reading as a dict with `kind`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, body FROM readings WHERE written = 0 ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [(row_id, _reading(kind, body)) for row_id, kind, body in rows]

    def between(
        self, since_s: float, until_s: float, limit: int, *, after_id: int | None = None
    ) -> list[tuple[int, dict[str, object]]]:
        """Rows written or not with `since_s <= ts_s < until_s`, in (ts_s, id) order, as in
        `unwritten`. To page on, pass the last row's ts_s as `since_s` and its id as `after_id`:
        rows sharing one timestamp are then neither repeated nor skipped."""
        after = -1 if after_id is None else after_id  # row ids are positive
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, body FROM readings WHERE ts_s >= ? AND ts_s < ? "
                "AND (ts_s > ? OR id > ?) ORDER BY ts_s, id LIMIT ?",
                (since_s, until_s, since_s, after, limit),
            ).fetchall()
        return [(row_id, _reading(kind, body)) for row_id, kind, body in rows]

    def mark_written(self, row_ids: Sequence[int]) -> None:
        """Mark a batch as in the database, all of it or none, in one transaction. With one
        commit per row (an fsync each) marking 1,000 rows took 0.3 to 3.6 s, depending on the
        disk, against 10 to 17 ms in one transaction: a crash then left a batch half marked
        (resent after the restart) and commits, hence acks, waited for the lock."""
        self._many("UPDATE readings SET written = 1 WHERE id = ?", [(i,) for i in row_ids])

    def _many(self, statement: str, parameters: Sequence[Sequence[object]]) -> int:
        """`statement` for each parameter set, in one transaction; how many rows changed."""
        return self._many_statements([(statement, parameters)])

    def _many_statements(self, statements: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> int:
        """Each statement for each of its parameter sets, all in one transaction; how many
        rows the first one changed."""
        with self._lock:
            before = self._db.total_changes
            changed = 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for index, (statement, parameters) in enumerate(statements):
                    self._db.executemany(statement, parameters)
                    if index == 0:
                        changed = self._db.total_changes - before
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return changed

    def stats(self) -> SpoolStats:
        with self._lock:
            rows, unwritten, oldest = self._db.execute(
                "SELECT COUNT(*), SUM(written = 0), MIN(CASE WHEN written = 0 THEN ts_s END) "
                "FROM readings"
            ).fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(f"{self.path.name}*"))
        return SpoolStats(rows, unwritten or 0, oldest, size)

    def enforce(self, quota_bytes: int, retention_s: float | None, now_s: float) -> Enforced:
        """Apply the retention and quota policy of the module docstring (blocking)."""
        with self._lock:
            written = 0 if retention_s is None else self._expire(now_s - retention_s)
            unwritten = 0
            if self._files_bytes() > quota_bytes:
                written += self._shed(quota_bytes, written=True)
                unwritten = self._shed(quota_bytes, written=False)
            if written or unwritten:
                # executescript steps the pragma to the end; execute() frees a single page.
                self._db.executescript("PRAGMA incremental_vacuum;")
            # After the vacuum: in WAL mode the file only shrinks when the checkpoint copies back.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            return Enforced(written, unwritten, self._files_bytes())

    def _expire(self, before_s: float) -> int:
        """Delete written rows read before `before_s`; how many."""
        cursor = self._db.execute(
            "DELETE FROM readings WHERE written = 1 AND ts_s < ?", (before_s,)
        )
        return cursor.rowcount

    def _shed(self, quota_bytes: int, *, written: bool) -> int:
        """Delete the oldest rows of one class until the rows fit in `quota_bytes`; how many."""
        total_rows = self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        row_bytes = max(1, self._used_bytes() // max(1, total_rows))  # indexes included
        deleted = 0
        while (excess_bytes := self._used_bytes() - quota_bytes) > 0:
            # Each pass deletes about the excess at the average row size; a page is only freed
            # once it is empty, so the measure after the pass decides whether to go on.
            batch = max(_MIN_SHED_ROWS, -(-excess_bytes // row_bytes))
            cursor = self._db.execute(
                "DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE written = ? "
                "ORDER BY ts_s, id LIMIT ?)",
                (int(written), batch),
            )
            if cursor.rowcount == 0:
                break  # none of this class left
            deleted += cursor.rowcount
        return deleted

    def _used_bytes(self) -> int:
        """What the rows occupy: the pages in use, which is the file's size once vacuumed."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def _files_bytes(self) -> int:
        """The database and its WAL (the -shm index is a small fixed-size map)."""
        files = (self.path, self.path.with_name(f"{self.path.name}-wal"))
        return sum(p.stat().st_size for p in files if p.exists())


def rows(items: Sequence[Spooled]) -> list[SpoolRow]:
    """Spooled readings as table rows (JSON body included)."""
    return [
        SpoolRow(
            item.reading.ts_s,
            _kind(item.reading),
            item.reading.device_id,
            item.uplink,
            item.ordinal,
            item.reading.model_dump_json(),
        )
        for item in items
    ]


def state_row(room: str, key: str, ts_s: float, body: str) -> SpoolRow:
    """A row that replaces the stored state of `key` in `room` (see `STATE`), committed with
    the readings it goes with."""
    return SpoolRow(ts_s, STATE, key, room, 0, body)


def _reading(kind: str, body: str) -> dict[str, object]:
    return {"kind": kind, **json.loads(body)}


def _kind(reading: Reading) -> str:
    return _KINDS[type(reading)]


_KINDS: dict[type, str] = {
    kind: kind.__name__.removesuffix("Reading").lower() for kind in get_args(Reading)
}
