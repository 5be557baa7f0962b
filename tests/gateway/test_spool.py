"""The spool keeps what it committed, once, across reopening."""

import os
import subprocess
import sys
from pathlib import Path

from gateway.ingest.readings import PedestrianReading, Spooled, WaterReading
from gateway.store.spool import Spool, state_row


def _walker(seq: int, ts_s: float = 1000.0) -> Spooled:
    reading = PedestrianReading(device_id="c1", segment="s1", ts_s=ts_s, count=1, period_s=0)
    return Spooled(reading, uplink=f"c1:{seq}")


def test_committed_readings_survive_reopening(tmp_path: Path) -> None:
    """What append() returned for is there after the file is closed and opened again."""
    spool = Spool(tmp_path / "spool.db")
    assert spool.append([_walker(1), _walker(2, 1001.0)]) == 2
    spool.close()
    again = Spool(tmp_path / "spool.db")
    rows = again.unwritten(10)
    assert [body["count"] for _, body in rows] == [1, 1]
    assert {body["kind"] for _, body in rows} == {"pedestrian"}


def test_a_redelivered_uplink_is_stored_once(tmp_path: Path) -> None:
    """The same uplink twice (acked too late before a crash) is one row."""
    spool = Spool(tmp_path / "spool.db")
    spool.append([_walker(7)])
    assert spool.append([_walker(7)]) == 0
    assert spool.stats().rows == 1


def test_written_rows_leave_the_queue_but_stay_as_history(tmp_path: Path) -> None:
    """mark_written() empties the writer's queue; the rows remain for export."""
    spool = Spool(tmp_path / "spool.db")
    meter = WaterReading(device_id="w1", segment="s1", ts_s=5.0, total_m3=12.5)
    spool.append([_walker(1), Spooled(meter, uplink=None)])
    ids = [row_id for row_id, _ in spool.unwritten(10)]
    spool.mark_written(ids[:1])
    assert [body["kind"] for _, body in spool.unwritten(10)] == ["water"]
    stats = spool.stats()
    assert (stats.rows, stats.unwritten, stats.oldest_unwritten_ts_s) == (2, 1, 5.0)


def test_commit_is_durable_against_kill_9(tmp_path: Path) -> None:
    """A process killed right after append() returned loses nothing it appended."""
    path = tmp_path / "spool.db"
    script = (
        "import os, signal, sys\n"
        "from gateway.ingest.readings import Spooled\nfrom gateway.store.spool import Spool\n"
        "from gateway.ingest.readings import PedestrianReading as P\n"
        f"s = Spool(__import__('pathlib').Path({str(path)!r}))\n"
        "for i in range(50):\n"
        "    s.append([Spooled(P(device_id='c', segment='s', ts_s=i, count=1, period_s=0),"
        " f'c:{i}')])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, env=os.environ.copy())
    assert result.returncode == -9
    assert Spool(path).stats().rows == 50


def test_state_rows_replace_the_state_in_the_readings_transaction(tmp_path: Path) -> None:
    """A state row is not a reading: it replaces its key's state, stored with the readings."""
    spool = Spool(tmp_path / "spool.db")
    first = [state_row("bins", "bin-1", 1.0, "a"), state_row("bins", "bin-2", 1.0, "b")]
    spool.append_rows(first)
    spool.append_rows([state_row("bins", "bin-1", 2.0, "c"), state_row("water", "m", 2.0, "d")])
    assert spool.state("bins") == {"bin-1": "c", "bin-2": "b"}
    assert spool.state("water") == {"m": "d"}
    assert spool.stats().rows == 0  # nothing for the database
    spool.close()
