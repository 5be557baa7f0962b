"""Noticing that the site or policy file changed, so the daemon reloads without a SIGHUP.

Polled (a stat per file every few seconds, the contents hashed only when the stat changes):
portable, no extra dependency, and an editor that writes a file in several steps is seen once
it has finished. A change is reported once per new content; reloading validates first, so a
half-written file is refused with its errors and the next write is tried again.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from gateway.logs import event

log = logging.getLogger("luciole.gateway")

WATCH_S = 2.0  # a saved file is picked up within this; a stat per file costs microseconds

_Stat = tuple[int, int] | None


class FileWatch:
    """Which of some files changed since the last look."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._state: dict[Path, tuple[_Stat, str | None]] = {}
        self.watch(paths)

    def watch(self, paths: Iterable[Path]) -> None:
        """Watch these files from their current contents on (after a reload, say)."""
        self._state = {path: (_stat(path), _digest(path)) for path in paths}

    def changed(self) -> list[Path]:
        """Files whose contents differ from the last look (missing counts as a content)."""
        found = []
        for path, (stat, digest) in self._state.items():
            now = _stat(path)
            if now == stat:
                continue
            new_digest = _digest(path)
            self._state[path] = (now, new_digest)
            if new_digest != digest:
                found.append(path)
        return found


async def watch_files(
    watch: FileWatch, reload: Callable[[], None], every_s: float = WATCH_S
) -> None:
    """Until cancelled: every `every_s`, ask for a reload when a watched file changed."""
    while True:
        await asyncio.sleep(every_s)
        changed = await asyncio.to_thread(watch.changed)
        if changed:
            event(log, logging.INFO, "config file changed", files=[str(p) for p in changed])
            reload()


def _stat(path: Path) -> _Stat:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
