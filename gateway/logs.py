"""Structured logs: a sentence an operator understands, then the facts as key=value (or JSON)."""

import json
import logging
import sys
import time
from typing import Any

_FIELDS = "luciole_fields"


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
        line = f"{stamp} {record.levelname:<5} {record.name}: {record.getMessage()}"
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
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


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
