"""A text log line is one line: what comes from the wire cannot start another or hide in one."""

import logging

import pytest

from gateway.logs import TextFormatter, event

# No space in it (tabs instead): a value with a space was quoted already.
FORGED = "luciole/town/sensor/pedestrian/x\n2026-11-22T21:04:05Z\tERROR\tluciole.gateway:\tforged"


class Kept(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _line(message: str, **fields: object) -> str:
    """The text line of one event."""
    logger = logging.getLogger("luciole.test-log-lines")
    handler = Kept()
    logger.addHandler(handler)
    try:
        event(logger, logging.WARNING, message, **fields)
    finally:
        logger.removeHandler(handler)
    return TextFormatter().format(handler.records[0])


def test_a_newline_in_a_topic_is_escaped() -> None:
    """A topic carrying a newline and a fake log line stays on the one line, escaped."""
    line = _line("message rejected", topic=FORGED, reason="bad_json")
    assert "\n" not in line
    assert 'topic="luciole/town/sensor/pedestrian/x\\n2026-11-22T21:04:05Z\\tERROR' in line


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\rb", '"a\\rb"'),
        ("a\x1b[31mb", '"a\\u001b[31mb"'),
        ("a\x7fb", '"a\\u007fb"'),
        ("a\x85b", '"a\\u0085b"'),
        ("a\u2028b", '"a\\u2028b"'),
        ("a\u202eb", '"a\\u202eb"'),
        ("a\tb", '"a\\tb"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("rue-des-lices-é", "rue-des-lices-é"),
    ],
)
def test_control_characters_are_escaped_letters_are_not(raw: str, shown: str) -> None:
    """C0, DEL, C1, line separators and bidirectional overrides are escaped; accents kept."""
    assert _line("x", detail=raw).endswith(f" detail={shown}")


def test_counts_are_written_as_pairs() -> None:
    """A mapping of counts reads `reason:count,...`, its keys escaped like any value."""
    line = _line("messages refused", reasons={"shed": 3, "bad\njson": 1})
    assert line.endswith(' reasons="shed:3,bad\\njson:1"')


def test_the_message_itself_is_escaped() -> None:
    """A message built with wire data cannot break the line either."""
    assert "\n" not in _line(f"odd {FORGED}")
