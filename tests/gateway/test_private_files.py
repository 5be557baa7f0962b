"""The spool and the dead-letter file hold raw payloads: 0600 files in 0700 folders."""

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.deadletter import DeadLetterFile, letter
from gateway.store.spool import Spool


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask for the length of the test: modes must not depend on it."""
    before = os.umask(0)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_spool_and_its_wal_and_shm_are_private(tmp_path: Path, open_umask: None) -> None:
    """A new spool is 0600 with its -wal and -shm, in a 0700 folder, even with umask 000."""
    path = tmp_path / "spool" / "luciole.db"
    spool = Spool(path)
    try:
        spool.append([])  # a transaction: the WAL and its index exist now
        made = sorted(p.name for p in path.parent.iterdir())
        assert made == ["luciole.db", "luciole.db-shm", "luciole.db-wal"]
        assert {name: _mode(path.parent / name) for name in made} == dict.fromkeys(made, 0o600)
        assert _mode(path.parent) == 0o700
    finally:
        spool.close()


def test_the_dead_letter_file_is_private_rotated_ones_too(tmp_path: Path, open_umask: None) -> None:
    """With umask 000 the folder is still made 0700 and each generation of the file 0600."""
    path = tmp_path / "spool" / "dead.jsonl"
    file = DeadLetterFile(path, max_bytes=700, backups=2)
    for i in range(5):
        file.write(letter("t", "bad_json", f"message {i}", b"x" * 100, float(i)))
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "dead.jsonl",
        "dead.jsonl.1",
        "dead.jsonl.2",
    ]
    assert {_mode(p) for p in path.parent.iterdir()} == {0o600}
    assert _mode(path.parent) == 0o700


def test_an_existing_file_open_to_others_is_named_not_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead-letter file an operator made 0644 keeps its mode, and a warning says what to run."""
    path = tmp_path / "dead.jsonl"
    path.write_text("{}\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        DeadLetterFile(path).write(letter("t", "bad_json", "", b"x", 0.0))
    assert _mode(path) == 0o644
    (record,) = [r for r in caplog.records if "open to group or others" in r.getMessage()]
    assert record.__dict__["luciole_fields"]["fix"] == f"chmod 600 {path}"
