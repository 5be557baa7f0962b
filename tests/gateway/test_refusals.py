"""Refusals are sampled and counted in the log, and rate-limited on the dead-letter topic."""

import json
import logging
from pathlib import Path

import pytest

from gateway.ops.refusals import Refusals
from gateway.store.deadletter import DeadLetterFile

TOPIC = "luciole/town/deadletter"


class Clock:
    """The refusals' real clock, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


class Sent:
    """What was published on the dead-letter topic, decoded."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []

    async def __call__(self, topic: str, body: str) -> None:
        assert topic == TOPIC
        self.bodies.append(json.loads(body))


def _lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = record.__dict__["luciole_fields"]
    return fields


def _refuse(refusals: Refusals, count: int, reason: str = "unknown_device") -> None:
    for n in range(count):
        refusals.reject(
            f"t/dev-{n % 7}", f"dev-{n % 7}", reason, "why", payload=b"{}", received_s=1.0
        )


def test_a_thousand_refusals_make_one_sample_and_one_summary_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a line each: the first of each reason in full, then counts by reason and source."""
    clock = Clock()
    refusals = Refusals(DeadLetterFile(tmp_path / "dead.jsonl"), clock)
    with caplog.at_level(logging.WARNING):
        _refuse(refusals, 1000)
        for _ in range(500):
            refusals.refused("t/intruder", "intruder", "shed", "over budget")
        clock.now_s += 10
        refusals.close_interval(received_s=2.0)
    assert len(_lines(caplog, "message rejected")) == 1
    assert len(_lines(caplog, "message shed")) == 1
    (summary,) = _lines(caplog, "messages refused")
    fields = _fields(summary)
    assert fields["count"] == 1500
    assert fields["reasons"] == {"unknown_device": 1000, "shed": 500}
    assert next(iter(dict(fields["sources"]))) == "intruder"  # type: ignore[call-overload]


def test_a_quiet_interval_logs_no_summary(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """One refusal is its own sample: no summary repeats it."""
    refusals = Refusals(DeadLetterFile(tmp_path / "dead.jsonl"), Clock())
    with caplog.at_level(logging.WARNING):
        _refuse(refusals, 1)
        assert refusals.close_interval(received_s=2.0) is None
    assert len(_lines(caplog, "message rejected")) == 1
    assert _lines(caplog, "messages refused") == []


async def test_the_topic_is_rate_limited_and_says_what_it_held_back(tmp_path: Path) -> None:
    """100 letters at once: the file has all of them, the topic its burst of 10; the next
    letter published says 90 were held back before it."""
    clock, sent = Clock(), Sent()
    refusals = Refusals(DeadLetterFile(tmp_path / "dead.jsonl"), clock)
    _refuse(refusals, 100)
    await refusals.send(sent, TOPIC)
    assert len((tmp_path / "dead.jsonl").read_text().splitlines()) == 100
    assert len(sent.bodies) == 10 and all("held_back" not in b for b in sent.bodies)
    clock.now_s += 0.5  # tokens back: 5
    _refuse(refusals, 1)
    await refusals.send(sent, TOPIC)
    assert sent.bodies[-1]["held_back"] == 90


async def test_the_interval_summary_counts_what_was_shed_and_held_back(tmp_path: Path) -> None:
    """Shed messages have no letter each: the summary letter counts them, in the file and on
    the topic, with the sources that sent most."""
    clock, sent = Clock(), Sent()
    refusals = Refusals(DeadLetterFile(tmp_path / "dead.jsonl"), clock)
    for _ in range(5000):
        refusals.refused("t/intruder", "intruder", "shed", "over budget")
    _refuse(refusals, 30)
    await refusals.send(sent, TOPIC)
    clock.now_s += 10
    await refusals.close(sent, TOPIC, received_s=3.0)
    summary = sent.bodies[-1]
    assert (summary["reason"], summary["shed"], summary["held_back"]) == ("summary", 5000, 20)
    assert summary["shed_sources"] == {"intruder": 5000}
    kept = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert kept[-1] == summary and len(kept) == 31


async def test_without_the_topic_letters_go_to_the_file_only(tmp_path: Path) -> None:
    """`deadletter_topic: false`: nothing is published, every letter is kept."""
    sent = Sent()
    refusals = Refusals(DeadLetterFile(tmp_path / "dead.jsonl"), Clock())
    _refuse(refusals, 3)
    await refusals.send(sent, None)
    assert sent.bodies == []
    assert len((tmp_path / "dead.jsonl").read_text().splitlines()) == 3
