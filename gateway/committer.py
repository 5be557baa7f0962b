"""Group commit: readings go to the spool in batches, and only then are their messages acked.

One fsync per message would cap ingestion at the disk's sync rate. Here one commit runs at a
time, and it takes everything that arrived while the previous one ran (up to `max_rows`
readings): on a fast disk commits are small and acks prompt, on a slow one they grow, and the
guarantee holds either way, since no message is acknowledged before the commit that holds its
readings returned. Waiting longer between commits would only hold acks back: the broker sends
a bounded number of unacknowledged messages (mosquitto's `max_inflight_messages`), so late
acks stall the stream.

A batch, once taken off the queue, is committed and acked by a task of its own that a cancel
does not reach: cancelling `run()` (as the daemon does on stop) must not drop a batch whose
worker-thread job had not started yet; `flush()` then waits for it before committing the rest.
"""

import asyncio
from collections.abc import Callable

from gateway.spool import Row, Spool, Spooled, rows

MAX_ROWS = 5000

Pending = tuple[list[Row], Callable[[], object]]


class Committer:
    """Collects (rows, ack) per message or per batch of messages; `run()` commits, then acks."""

    def __init__(self, spool: Spool, max_rows: int = MAX_ROWS) -> None:
        self._spool = spool
        self._max_rows = max_rows
        self._pending: list[Pending] = []
        self._arrived = asyncio.Event()
        self._in_flight: asyncio.Task[None] | None = None
        self.committed_rows = 0
        self.batches = 0

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def add(self, items: list[Spooled], ack: Callable[[], object]) -> None:
        """Queue one message's readings (possibly none: a rejection is acked after it too)."""
        self.add_rows(rows(items), ack)

    def add_rows(self, prepared: list[Row], ack: Callable[[], object]) -> None:
        """Queue rows made by `spool.rows()` (in the event loop: the worker thread then only
        runs SQLite, which releases the GIL, so a commit does not hold up presence handling);
        `ack` runs once they are committed."""
        self._pending.append((prepared, ack))
        self._arrived.set()

    async def run(self) -> None:
        """Until cancelled: commit what is pending, then ack it."""
        while True:
            await self._arrived.wait()
            await self.flush()

    async def flush(self) -> None:
        """Commit and ack everything pending now (also used on shutdown, after a cancel)."""
        while True:
            if self._in_flight is not None:
                try:
                    await asyncio.shield(self._in_flight)
                finally:
                    if self._in_flight.done():  # kept when we were cancelled while it ran
                        self._in_flight = None
            if not self._pending:
                self._arrived.clear()
                return
            batch = self._take()
            self._in_flight = asyncio.create_task(self._commit(batch), name="commit-batch")

    def _take(self) -> list[Pending]:
        """The oldest pending entries, up to `max_rows` rows (at least one entry)."""
        count, taken = 0, 0
        for prepared, _ in self._pending:
            if taken and count + len(prepared) > self._max_rows:
                break
            count += len(prepared)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    async def _commit(self, batch: list[Pending]) -> None:
        items = [row for prepared, _ in batch for row in prepared]
        if items:
            self.committed_rows += await asyncio.to_thread(self._spool.append_rows, items)
        self.batches += 1
        for _, ack in batch:
            ack()
