"""Group commit: readings go to the spool in batches, and only then are their messages acked.

One fsync per message would cap ingestion at the disk's sync rate; one per batch (up to
`max_batch` messages, or whatever arrived while the previous commit ran) keeps the guarantee,
since no message is acknowledged before the commit that holds its readings returned.

A batch, once taken off the queue, is committed and acked by a task of its own that a cancel
does not reach: cancelling `run()` (as the daemon does on stop) must not drop a batch whose
worker-thread job had not started yet; `flush()` then waits for it before committing the rest.
"""

import asyncio
from collections.abc import Callable

from gateway.spool import Row, Spool, Spooled, rows

MAX_BATCH = 500
COMMIT_INTERVAL_S = 0.01

Pending = tuple[list[Row], Callable[[], object]]


class Committer:
    """Collects (readings, ack) per message; `run()` commits and acks, batch after batch."""

    def __init__(self, spool: Spool, max_batch: int = MAX_BATCH) -> None:
        self._spool = spool
        self._max_batch = max_batch
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
        # Serialised here, in the event loop: the worker thread then only runs SQLite, which
        # releases the GIL, so a commit does not hold up presence handling.
        self._pending.append((rows(items), ack))
        self._arrived.set()

    async def run(self) -> None:
        """Until cancelled: commit what is pending, then ack it."""
        while True:
            await self._arrived.wait()
            await self.flush()
            # Let messages gather: fewer, larger commits cost the event loop less than one
            # worker-thread hop per message, and a few ms more before an ack is harmless.
            await asyncio.sleep(COMMIT_INTERVAL_S)

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
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            self._in_flight = asyncio.create_task(self._commit(batch), name="commit-batch")

    async def _commit(self, batch: list[Pending]) -> None:
        items = [item for message_items, _ in batch for item in message_items]
        if items:
            self.committed_rows += await asyncio.to_thread(self._spool.append_rows, items)
        self.batches += 1
        for _, ack in batch:
            ack()
