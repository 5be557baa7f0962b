"""What the console asks of the daemon: its state as JSON, and the actions an operator takes.

`ConsoleHost` is the seam between the web room (`server`, `auth`, the page) and the daemon
(`gateway.console.daemon_host` implements it over the running daemon's parts); the web room's
tests use a fake of it. Every action is done on the daemon's event loop, between messages
and ticks, and says what became of it: `ActionResult`.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ActionResult:
    """What an action did: `ok`, or the reason it was refused (a word, as check-config and
    the dead-letter file word them) with a detail an operator can act on, and the HTTP status
    that goes with it (400 an invalid request, 404 an unknown target or alert)."""

    ok: bool
    reason: str | None = None
    detail: str | None = None
    status: int = 200


class ConsoleHost(Protocol):
    def state(self) -> dict[str, object]:
        """`GET /api/state`: site, ts, broker, spool, segments, overrides, alerts, devices,
        energy (the shape is in README.md, "The operator's console")."""
        ...

    async def set_override(
        self, target: str, level: float, duration_s: float | None, who: str
    ) -> ActionResult: ...

    async def clear_override(self, target: str, who: str) -> ActionResult: ...

    async def ack_alert(self, alert_id: str, who: str) -> ActionResult: ...
