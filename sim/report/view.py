"""What the demo shows while it runs: a live table on a terminal, a progress line elsewhere.

Logs and CI output are not terminals; redrawing a table there would fill them with escape
codes, so they get one plain line every few seconds instead.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from controllers.topology import FloatArray, IntArray

_BAR_CELLS = 20


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything the view shows, as of one moment of simulated time."""

    local_time: str
    lit: bool
    progress: float
    segment_ids: tuple[str, ...]
    level: FloatArray
    walkers: IntArray
    counted: IntArray
    walkers_total: int
    commands: int
    energy_kwh: float
    always_on_kwh: float


class View(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def frame_due(self) -> bool:
        """Whether a new frame should be shown now (building a snapshot is not free)."""
        ...

    def show(self, snapshot: Snapshot) -> None: ...


def make_view(live: bool, console: Console | None = None) -> "LiveView | PlainView":
    """The live table when asked for and stdout is a terminal, else the plain progress line."""
    console = console or Console()
    if live and console.is_terminal:
        return LiveView(console)
    return PlainView(sys.stdout)


class LiveView:
    """A table redrawn about four times a second by rich."""

    def __init__(self, console: Console, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._live = Live(console=console, refresh_per_second=4, transient=False)
        self._monotonic = monotonic
        self._next_draw_s = 0.0

    def __enter__(self) -> Self:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(kind, error, tb)

    def frame_due(self) -> bool:
        # The loop steps up to 100 times a second; building the table more often than rich
        # draws it would only take CPU from the simulated devices and the gateway.
        if self._monotonic() < self._next_draw_s:
            return False
        self._next_draw_s = self._monotonic() + 0.25
        return True

    def show(self, snapshot: Snapshot) -> None:
        self._live.update(render(snapshot))


class PlainView:
    """One progress line every `every_s` real seconds."""

    def __init__(
        self,
        stream: TextIO,
        every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._every_s = every_s
        self._monotonic = monotonic
        self._next_line_s = monotonic() + every_s

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def frame_due(self) -> bool:
        if self._monotonic() < self._next_line_s:
            return False
        self._next_line_s = self._monotonic() + self._every_s
        return True

    def show(self, snapshot: Snapshot) -> None:
        print(progress_line(snapshot), file=self._stream, flush=True)


def progress_line(s: Snapshot) -> str:
    return (
        f"{s.local_time} {'lit' if s.lit else 'day'} {s.progress:4.0%}  "
        f"walkers {s.walkers_total}  commands {s.commands}  "
        f"energy {s.energy_kwh:.2f} kWh (always-on {s.always_on_kwh:.2f})"
    )


def render(s: Snapshot) -> Group:
    """The segment table with the night's totals under it."""
    title = f"Luciole demo · {s.local_time} · {'lit' if s.lit else 'daylight'} · {s.progress:.0%}"
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("segment")
    table.add_column("level", no_wrap=True)
    table.add_column("%", justify="right")
    table.add_column("walkers", justify="right")
    table.add_column("counted", justify="right")
    for i, segment_id in enumerate(s.segment_ids):
        level = float(s.level[i])
        walkers = int(s.walkers[i])
        table.add_row(
            segment_id,
            bar(level),
            f"{level:.0%}",
            str(walkers) if walkers else "",
            str(int(s.counted[i])) if s.counted[i] else "",
        )
    saving = 1 - s.energy_kwh / s.always_on_kwh if s.always_on_kwh > 0 else 0.0
    totals = Text(
        f"walkers so far {s.walkers_total} · lamp commands {s.commands} · "
        f"energy {s.energy_kwh:.2f} kWh vs always-on {s.always_on_kwh:.2f} kWh "
        f"({saving:.0%} saved)"
    )
    return Group(table, totals)


def bar(level: float) -> Text:
    """A level as a bar of blocks, brighter colour for brighter light."""
    cells = round(max(0.0, min(level, 1.0)) * _BAR_CELLS)
    style = "bold yellow" if level >= 0.9 else ("yellow" if level > 0 else "dim")
    return Text("█" * cells + "·" * (_BAR_CELLS - cells), style=style)
