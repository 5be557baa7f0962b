"""Marking rows written: one batch, one transaction, so a crash never leaves it half marked."""

import sqlite3
from pathlib import Path

import pytest

from gateway.ingest.readings import Spooled, WaterReading
from gateway.store.spool import Spool, SpoolRow, rows


def _meter(seq: int) -> Spooled:
    reading = WaterReading(device_id="w1", segment="s1", ts_s=1.7e9 + seq, total_m3=10.0 + seq)
    return Spooled(reading, f"w1:{seq}")


def test_a_batch_is_marked_all_at_once_or_not_at_all(tmp_path: Path) -> None:
    """A failure on the 60th row of 100 leaves all 100 unwritten (resent whole, none lost)."""
    spool = Spool(tmp_path / "spool.db")
    spool.append([_meter(seq) for seq in range(100)])
    ids = [row_id for row_id, _ in spool.unwritten(100)]
    # Another connection's trigger stands for the disk failing (or the process dying) midway.
    with sqlite3.connect(tmp_path / "spool.db") as other:
        other.execute(
            f"CREATE TRIGGER fail BEFORE UPDATE OF written ON readings WHEN NEW.id = {ids[59]} "
            "BEGIN SELECT RAISE(ABORT, 'disk failed'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk failed"):
        spool.mark_written(ids)
    assert spool.stats().unwritten == 100
    spool.close()


def test_a_marked_batch_leaves_the_queue_in_one_call(tmp_path: Path) -> None:
    """Marked rows are no longer unwritten; the others still are, in id order."""
    spool = Spool(tmp_path / "spool.db")
    spool.append([_meter(seq) for seq in range(10)])
    ids = [row_id for row_id, _ in spool.unwritten(10)]
    spool.mark_written(ids[:6])
    assert [row_id for row_id, _ in spool.unwritten(10)] == ids[6:]
    spool.close()


def test_spool_rows_are_named_and_stay_plain_tuples() -> None:
    """A row's fields have names, and it is still the tuple that sqlite's executemany takes."""
    (row,) = rows([_meter(7)])
    assert isinstance(row, SpoolRow) and isinstance(row, tuple)
    assert (row.kind, row.device_id, row.uplink, row.ordinal) == ("water", "w1", "w1:7", 0)
    assert row.ts_s == 1.7e9 + 7 and '"total_m3":17.0' in row.body
