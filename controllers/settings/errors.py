"""Configuration problems, each with the file, line and key path an operator needs to fix it."""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: rendered as `file:line: key.path: message`."""

    file: str
    line: int | None
    path: str
    message: str
    warning: bool = False  # legal but unwise: reported, not refused

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        message = f"warning: {self.message}" if self.warning else self.message
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"


class ConfigError(Exception):
    """A file that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def dotted(path: tuple[str | int, ...]) -> str:
    """`("segments", 3, "id")` → `segments[3].id`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` when a known name is close to `name`, else nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
