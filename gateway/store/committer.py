"""Group commit: readings go to the spool in batches, and only then are their messages acked.

One fsync per message would cap ingestion at the disk's sync rate. Here one commit runs at a
time, and it takes everything that arrived meanwhile (up to `max_rows` readings); the
guarantee holds whatever the batch, since no message is acknowledged before the commit that
holds its readings returned. When to start the next commit is a trade:
- a trickle of messages is gathered for up to `interval_s` (10 ms): a commit per message would
  cost the daemon a worker-thread hop, a transaction and a wake-up each, CPU that presence
  handling and the rest of the machine need (at 1,000 messages a second, commits back to back
  raised the median presence latency of bench/latency.py by a third);
- but as soon as `eager_messages` (8) wait, the commit starts at once: the broker sends only
  so many unacknowledged messages (mosquitto's `max_inflight_messages`, 20 by default), and
  a backlog must not drain at one window per interval. A broker whose window is smaller than
  that would see its stream paced at one window per 10 ms.

A batch, once taken off the queue, is committed and acked by a task of its own that a cancel
does not reach: cancelling `run()` (as the daemon does on stop) must not drop a batch whose
worker-thread job had not started yet; `flush()` then waits for it before committing the rest.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import NamedTuple

from gateway.ingest.readings import Spooled
from gateway.logs import event
from gateway.store.spool import Spool, SpoolRow, rows

log = logging.getLogger("luciole.gateway")

MAX_ROWS = 5000
INTERVAL_S = 0.01
EAGER_MESSAGES = 8


class Pending(NamedTuple):
    """Rows waiting for a commit, and the ack that follows it for `messages` messages."""

    rows: list[SpoolRow]
    ack: Callable[[], object]
    messages: int


class Committer:
    """Collects (rows, ack) per message or per batch of messages; `run()` commits, then acks."""

    def __init__(
        self,
        spool: Spool,
        max_rows: int = MAX_ROWS,
        interval_s: float = INTERVAL_S,
        eager_messages: int = EAGER_MESSAGES,
    ) -> None:
        self._spool = spool
        self._max_rows = max_rows
        self._interval_s = interval_s
        self._eager_messages = eager_messages
        self._pending: list[Pending] = []
        self._messages = 0  # messages whose acks wait in `_pending`
        self._arrived = asyncio.Event()
        self._enough = asyncio.Event()
        self._in_flight: asyncio.Task[None] | None = None
        self.committed_rows = 0
        self.batches = 0

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def add(self, items: list[Spooled], ack: Callable[[], object]) -> None:
        """Queue one message's readings (possibly none: a rejection is acked after it too)."""
        self.add_rows(rows(items), ack)

    def add_rows(
        self, prepared: list[SpoolRow], ack: Callable[[], object], messages: int = 1
    ) -> None:
        """Queue rows made by `spool.rows()` (in the event loop: the worker thread then only
        runs SQLite, which releases the GIL, so a commit does not hold up presence handling);
        `ack` acknowledges `messages` messages once the rows are committed."""
        self._pending.append(Pending(prepared, ack, messages))
        self._messages += messages
        self._arrived.set()
        if self._messages >= self._eager_messages:
            self._enough.set()

    async def run(self) -> None:
        """Until cancelled: gather (see the module docstring), commit, ack; one at a time."""
        while True:
            await self._arrived.wait()
            if not self._enough.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval_s):
                        await self._enough.wait()
            await self._commit_next()

    async def flush(self) -> None:
        """Commit and ack everything pending now (also used on shutdown, after a cancel)."""
        while await self._commit_next():
            pass

    async def _commit_next(self) -> bool:
        """Wait for the commit in flight, then start one with what is pending (False: none)."""
        if self._in_flight is not None:
            try:
                await asyncio.shield(self._in_flight)
            finally:
                if self._in_flight.done():  # kept when we were cancelled while it ran
                    self._in_flight = None
        if not self._pending:
            self._arrived.clear()
            return False
        self._in_flight = asyncio.create_task(self._commit(self._take()), name="commit-batch")
        return True

    def _take(self) -> list[Pending]:
        """The oldest pending entries, up to `max_rows` rows (at least one entry)."""
        count, taken = 0, 0
        for pending in self._pending:
            if taken and count + len(pending.rows) > self._max_rows:
                break
            count += len(pending.rows)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        self._messages -= sum(pending.messages for pending in batch)
        if self._messages < self._eager_messages:
            self._enough.clear()
        return batch

    async def _commit(self, batch: list[Pending]) -> None:
        items = [row for pending in batch for row in pending.rows]
        if items:
            self.committed_rows += await asyncio.to_thread(self._spool.append_rows, items)
        self.batches += 1
        for pending in batch:
            pending.ack()
        if items and log.isEnabledFor(logging.DEBUG):
            messages = sum(pending.messages for pending in batch)
            event(log, logging.DEBUG, "committed", rows=len(items), messages=messages)
