"""The dead-letter file keeps refused messages, readable and bounded, and rotates by size."""

import base64
import hashlib
import json
from pathlib import Path

from gateway.store.deadletter import (
    DETAIL_CHARS,
    EXCERPT_BYTES,
    TOPIC_CHARS,
    DeadLetterFile,
    letter,
)


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


def test_a_large_payload_leaves_a_bounded_letter(tmp_path: Path) -> None:
    """A 10 MiB binary payload leaves a line of a few KiB: its first KiB, size and SHA-256."""
    payload = bytes(range(256)) * 40960
    file = DeadLetterFile(tmp_path / "dead.jsonl")
    file.write(letter("t/big", "too_large", "too large", payload, 1.0))
    line = (tmp_path / "dead.jsonl").read_bytes()
    record = json.loads(line)
    assert len(line) < 8 * 1024
    assert (record["size"], record["truncated"]) == (len(payload), True)
    assert record["sha256"] == hashlib.sha256(payload).hexdigest()
    assert base64.b64decode(record["payload_base64"]) == payload[:EXCERPT_BYTES]


def test_a_small_payload_is_kept_whole_with_its_size_and_digest() -> None:
    """A payload within the excerpt is kept whole, not marked truncated."""
    record = letter("t", "bad_json", "not JSON", b"{oops", 0.0)
    assert (record["payload"], record["size"]) == ("{oops", 5)
    assert record["sha256"] == hashlib.sha256(b"{oops").hexdigest()
    assert "truncated" not in record


def test_an_excerpt_cut_inside_a_character_stays_text() -> None:
    """UTF-8 text cut by the excerpt in the middle of a character keeps its whole characters."""
    payload = ("€" * 2000).encode()  # three bytes each: the excerpt's end falls inside one
    record = letter("t", "too_large", "too large", payload, 0.0)
    assert record["payload"] == "€" * (EXCERPT_BYTES // 3)


def test_a_long_topic_and_detail_are_clipped() -> None:
    """MQTT allows 64 KiB topics: the letter keeps their start only."""
    record = letter("t" * 65_000, "no_route", "d" * 65_000, b"", 0.0)
    assert len(str(record["topic"])) == TOPIC_CHARS
    assert len(str(record["detail"])) == DETAIL_CHARS
