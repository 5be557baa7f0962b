"""Structured logs: a sentence an operator understands, then the facts as key=value (or JSON).

Values often come from the wire (a topic, a device id, a detail quoting a payload): in the
text format, a value with a space, a quote or a control character is quoted and escaped as a
JSON string, and control characters left anywhere (C0, DEL, C1, line and paragraph
separators, bidirectional overrides) are written as `\\uXXXX`, so that no message can start a
line of its own or disguise one. The JSON format escapes them as JSON does.
"""

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

_FIELDS = "luciole_fields"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_QUOTED = re.compile(r'[\s"]')


def event(logger: logging.Logger, severity: int, message: str, **fields: Any) -> None:
    """Log `message` with structured `fields` that both formatters render."""
    logger.log(severity, message, extra={_FIELDS: fields})


class TextFormatter(logging.Formatter):
    """`2026-11-22T21:04:05Z INFO  gateway: lamp command sent segment=a-01 level=1.00`."""

    def converter(self, seconds: float | None = None) -> time.struct_time:
        return time.gmtime(seconds)

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ")
        fields = getattr(record, _FIELDS, {})
        facts = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        line = f"{stamp} {record.levelname:<5} {record.name}: {_escape(record.getMessage())}"
        line = f"{line} {facts}" if facts else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, _FIELDS, {}),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, Mapping):  # counts by reason, by source: `a:3,b:1`
        text = ",".join(f"{key}:{_text(count)}" for key, count in value.items())
    else:
        text = str(value)
    if not text or _QUOTED.search(text) or _CONTROL.search(text):
        return _escape(json.dumps(text, ensure_ascii=False))
    return text


def _escape(text: str) -> str:
    """Control characters that JSON leaves as they are, as `\\uXXXX`."""
    return _CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now, so a live terminal view that redirects stderr
    (the demo's) shows log lines above itself instead of being torn by them."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send logs to stderr in the chosen format; quiet the chatty libraries."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("amqtt", "transitions", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
