"""The dead-letter file keeps every refused message, readable, and rotates by size."""

import json
from pathlib import Path

from gateway.store.deadletter import DeadLetterFile, letter


def test_text_and_binary_payloads_are_both_kept(tmp_path: Path) -> None:
    """UTF-8 payloads are kept as text, anything else as base64, never dropped."""
    file = DeadLetterFile(tmp_path / "dead.jsonl")
    file.write(letter("t/a", "bad_json", "not JSON", b"{oops", 1.0))
    file.write(letter("t/b", "not_utf8", "byte 0", b"\xff\x00", 2.0))
    first, second = (json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines())
    assert (first["topic"], first["reason"], first["payload"]) == ("t/a", "bad_json", "{oops")
    assert second["payload_base64"] == "/wA="


def test_file_rotates_and_keeps_a_bounded_number_of_backups(tmp_path: Path) -> None:
    """Past the size limit the file moves to .1 (then .2 ...), and the oldest beyond is gone."""
    path = tmp_path / "dead.jsonl"
    file = DeadLetterFile(path, max_bytes=200, backups=2)
    for i in range(20):
        file.write(letter("t", "bad_json", f"message {i}", b"x" * 50, float(i)))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["dead.jsonl", "dead.jsonl.1", "dead.jsonl.2"]
    newest = json.loads(path.read_text().splitlines()[-1])
    assert newest["detail"] == "message 19"
