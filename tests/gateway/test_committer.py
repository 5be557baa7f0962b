"""Group commit: a message is acked only after its readings are committed, even across a stop."""

import asyncio
import functools
import threading
from collections.abc import Sequence
from pathlib import Path

from gateway.ingest.readings import PedestrianReading, Spooled
from gateway.store.committer import Committer
from gateway.store.spool import Spool, SpoolRow

WAIT_S = 5.0


def _walker(seq: int) -> Spooled:
    reading = PedestrianReading(
        device_id="c1", segment="s1", ts_s=1000.0 + seq, count=1, period_s=0
    )
    return Spooled(reading, uplink=f"c1:{seq}")


class HeldSpool(Spool):
    """A real spool whose commit waits until the test lets it go."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.started = threading.Event()
        self.release = threading.Event()

    def append_rows(self, prepared: Sequence[SpoolRow]) -> int:
        self.started.set()
        assert self.release.wait(WAIT_S), "test never released the commit"
        return super().append_rows(prepared)


async def test_acks_follow_the_commit(tmp_path: Path) -> None:
    """No ack is sent while the batch holding its readings is still being committed."""
    spool = HeldSpool(tmp_path / "spool.db")
    committer = Committer(spool)
    acked: list[int] = []
    for seq in range(3):
        committer.add([_walker(seq)], functools.partial(acked.append, seq))
    flushing = asyncio.create_task(committer.flush())
    assert await asyncio.to_thread(spool.started.wait, WAIT_S)
    assert acked == []
    spool.release.set()
    await asyncio.wait_for(flushing, WAIT_S)
    assert acked == [0, 1, 2]
    assert spool.stats().rows == 3


async def test_a_batch_in_flight_when_run_is_cancelled_is_still_committed_and_acked(
    tmp_path: Path,
) -> None:
    """Stopping cancels run() mid-commit; the final flush() still stores and acks that batch."""
    spool = HeldSpool(tmp_path / "spool.db")
    committer = Committer(spool)
    acked: list[int] = []
    committer.add([_walker(1)], lambda: acked.append(1))
    running = asyncio.create_task(committer.run())
    assert await asyncio.to_thread(spool.started.wait, WAIT_S)
    committer.add([_walker(2)], lambda: acked.append(2))  # arrives while the first commits
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    spool.release.set()
    await asyncio.wait_for(committer.flush(), WAIT_S)
    assert acked == [1, 2]
    assert spool.stats().rows == 2
    assert committer.waiting == 0


async def test_a_failed_commit_acks_nothing_and_is_reported(tmp_path: Path) -> None:
    """A spool that cannot commit raises out of flush(); its messages stay unacked."""
    spool = Spool(tmp_path / "spool.db")
    spool.close()  # every commit now fails
    committer = Committer(spool)
    acked: list[int] = []
    committer.add([_walker(1)], lambda: acked.append(1))
    try:
        await committer.flush()
    except Exception as error:  # sqlite3.ProgrammingError: closed database
        assert "closed" in str(error)
    else:
        raise AssertionError("flush() hid a failed commit")
    assert acked == []


class RecordingSpool(Spool):
    """A real spool that tells the test the size of each commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[int] = []
        self.committed = threading.Event()

    def append_rows(self, prepared: Sequence[SpoolRow]) -> int:
        count = super().append_rows(prepared)
        self.commits.append(len(prepared))
        self.committed.set()
        return count


async def test_a_trickle_is_gathered_and_enough_messages_commit_at_once(tmp_path: Path) -> None:
    """Below `eager_messages` the committer waits (up to its interval); reaching it, it
    commits everything gathered in one transaction, without waiting out the interval."""
    spool = RecordingSpool(tmp_path / "spool.db")
    committer = Committer(spool, interval_s=3600.0, eager_messages=16)
    running = asyncio.create_task(committer.run())
    acked: list[int] = []
    for seq in range(16):
        committer.add([_walker(seq)], functools.partial(acked.append, seq))
        await asyncio.sleep(0)  # let run() see each arrival, as it would between messages
    assert await asyncio.to_thread(spool.committed.wait, WAIT_S)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await asyncio.wait_for(committer.flush(), WAIT_S)
    assert spool.commits == [16]
    assert acked == list(range(16))
