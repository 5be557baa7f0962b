"""Spool.enforce: written rows expire; over quota, written go before unwritten, oldest first."""

import math
from pathlib import Path

import pytest

from gateway.ingest.readings import Spooled, WaterReading
from gateway.store.spool import Enforced, Spool

NOW_S = 1_800_000_000.0
DAY_S = 86_400.0
NO_QUOTA_BYTES = 1 << 40
ROWS = 1000


def _meters(first_seq: int, times_s: list[float]) -> list[Spooled]:
    """One water reading per time, each from its own uplink."""
    return [
        Spooled(
            WaterReading(device_id="w1", segment="s1", ts_s=ts_s, total_m3=float(seq)),
            uplink=f"w1:{seq}",
        )
        for seq, ts_s in enumerate(times_s, start=first_seq)
    ]


def _fill(spool: Spool, written_s: list[float], unwritten_s: list[float]) -> None:
    """Append readings at `written_s` and mark them written, then readings at `unwritten_s`."""
    spool.append(_meters(0, written_s))
    spool.mark_written([row_id for row_id, _ in spool.unwritten(len(written_s) + 1)])
    spool.append(_meters(len(written_s), unwritten_s))


def _times(spool: Spool) -> tuple[list[float], list[float]]:
    """(written, unwritten) reading times left in the spool, sorted."""
    every = {row_id: body["ts_s"] for row_id, body in spool.between(-math.inf, math.inf, 10**6)}
    unwritten = {row_id for row_id, _ in spool.unwritten(10**6)}
    written_s = sorted(float(str(ts)) for i, ts in every.items() if i not in unwritten)
    return written_s, sorted(float(str(every[i])) for i in unwritten)


def _size_bytes(spool: Spool) -> int:
    """The files' size once checkpointed (an enforce with no limit deletes nothing)."""
    return spool.enforce(NO_QUOTA_BYTES, None, NOW_S).size_bytes


def test_retention_deletes_only_written_rows_older_than_it(tmp_path: Path) -> None:
    """Written rows older than retention go; younger written rows and old unwritten rows stay."""
    spool = Spool(tmp_path / "spool.db")
    old_s, edge_s, young_s = NOW_S - 3 * DAY_S, NOW_S - 2 * DAY_S, NOW_S - DAY_S
    _fill(spool, written_s=[old_s, edge_s, young_s], unwritten_s=[old_s - 1])
    done = spool.enforce(NO_QUOTA_BYTES, 2 * DAY_S, NOW_S)
    assert (done.rows_deleted_written, done.rows_deleted_unwritten) == (1, 0)
    assert _times(spool) == ([edge_s, young_s], [old_s - 1])


def test_without_retention_written_rows_are_kept(tmp_path: Path) -> None:
    """retention_s=None keeps written rows as local history, however old."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, written_s=[0.0, 1.0], unwritten_s=[])
    done = spool.enforce(NO_QUOTA_BYTES, None, NOW_S)
    assert (done.rows_deleted_written, done.rows_deleted_unwritten) == (0, 0)
    assert spool.stats().rows == 2


def test_a_spool_under_quota_is_untouched(tmp_path: Path) -> None:
    """Under quota and within retention, nothing is deleted and the size is reported."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, written_s=[NOW_S - 10.0], unwritten_s=[NOW_S - 5.0])
    before = _times(spool)
    quota_bytes = _size_bytes(spool) + 1
    done = spool.enforce(quota_bytes, DAY_S, NOW_S)
    assert done == Enforced(0, 0, done.size_bytes)
    assert 0 < done.size_bytes <= quota_bytes
    assert _times(spool) == before


def test_over_quota_written_rows_go_first_oldest_first(tmp_path: Path) -> None:
    """A quota that written rows can satisfy costs no unwritten row; the oldest written go."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, [float(t) for t in range(ROWS)], [float(t) for t in range(ROWS, 2 * ROWS)])
    quota_bytes = int(_size_bytes(spool) * 0.75)
    done = spool.enforce(quota_bytes, None, NOW_S)
    assert done.rows_deleted_unwritten == 0
    assert 0 < done.rows_deleted_written < ROWS
    written_s, unwritten_s = _times(spool)
    assert written_s == [float(t) for t in range(done.rows_deleted_written, ROWS)]
    assert len(unwritten_s) == ROWS
    assert done.size_bytes <= quota_bytes


def test_still_over_quota_unwritten_rows_go_oldest_first(tmp_path: Path) -> None:
    """When written rows are not enough, unwritten rows go by reading time (not arrival)."""
    spool = Spool(tmp_path / "spool.db")
    # Unwritten rows arrive newest first, so reading time and row id disagree.
    newest_first_s = [float(t) for t in reversed(range(ROWS, 2 * ROWS))]
    _fill(spool, [float(t) for t in range(ROWS)], newest_first_s)
    quota_bytes = int(_size_bytes(spool) * 0.25)
    done = spool.enforce(quota_bytes, None, NOW_S)
    assert done.rows_deleted_written == ROWS
    assert 0 < done.rows_deleted_unwritten < ROWS
    written_s, unwritten_s = _times(spool)
    assert written_s == []
    assert unwritten_s == [float(t) for t in range(ROWS + done.rows_deleted_unwritten, 2 * ROWS)]
    assert spool.stats().unwritten == ROWS - done.rows_deleted_unwritten
    assert done.size_bytes <= quota_bytes


@pytest.mark.parametrize("retention_s", [None, DAY_S])
def test_a_quota_too_small_for_any_row_empties_the_spool_and_stops(
    tmp_path: Path, retention_s: float | None
) -> None:
    """A quota below an empty file's size deletes every row, counts them, and returns."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, written_s=[1.0, 2.0], unwritten_s=[3.0])
    done = spool.enforce(0, retention_s, NOW_S)
    assert (done.rows_deleted_written, done.rows_deleted_unwritten) == (2, 1)
    assert spool.stats().rows == 0
    assert done.size_bytes > 0  # the schema's pages remain
