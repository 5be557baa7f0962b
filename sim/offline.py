"""The gateway without MQTT: messages in, lamp commands out, in simulated time.

DESIGN.md lets `sim` import gateway's wire formats. This module goes one step further on
purpose: it runs the daemon's own pure pieces, `gateway.intake.Intake` (decode, registry,
de-duplication) and `gateway.lighting.Lighting` (engine and command filter), which do no I/O,
in the order `gateway.daemon.Daemon` calls them. An offline replay therefore gives the
commands the daemon gives; a copy of the rules here could drift. It is the only module of the
simulator that touches them (the thin adapter the brief of the controller can change behind).
"""

from collections import Counter
from dataclasses import dataclass

from controllers.settings import Policy, SiteConfig
from gateway.intake import Duplicate, Intake, Rejection
from gateway.lighting import Lighting, Outgoing


@dataclass(frozen=True)
class Command:
    """A lamp command as it went out: when, to which segment, what."""

    time_s: float
    segment: str
    level: float
    ramp_s: float
    reason: str


class Pipeline:
    """Intake and lighting of one site, fed message by message like the daemon's receive and
    tick tasks; `stats` counts what the daemon counts."""

    def __init__(self, site: SiteConfig, policy: Policy, start_s: float) -> None:
        self.intake = Intake(site)
        self.lighting = Lighting(site, policy, start_s)
        self.stats: Counter[str] = Counter()

    def listens_to(self, topic: str) -> bool:
        """Whether the daemon subscribes to `topic` (its sources and the override topics)."""
        topics = self.lighting.topics
        return topics.parse_override(topic) is not None or self.intake.route(topic) is not None

    def message(self, topic: str, payload: bytes, received_s: float) -> list[Outgoing]:
        """One received message, as `Daemon._handle` treats it; the commands it triggers."""
        target = self.lighting.topics.parse_override(topic)
        if target is not None:
            if self.lighting.override_message(target, payload, received_s) is not None:
                self.stats["rejected_invalid_override"] += 1
                return []
            return self.lighting.commands(received_s)
        result = self.intake.message(topic, payload, received_s)
        if isinstance(result, Rejection):
            self.stats[f"rejected_{result.reason}"] += 1
            return []
        if isinstance(result, Duplicate):
            self.stats["duplicates"] += 1
            return []
        self.stats["accepted"] += 1
        raised = [self.lighting.accept(reading, received_s) for reading in result.readings]
        self.stats["readings"] += len(result.readings)
        return self.lighting.commands(received_s) if any(raised) else []

    def tick(self, now_s: float) -> list[Outgoing]:
        """The periodic step: expiries, schedule changes, refreshes."""
        return self.lighting.commands(now_s)

    def reconnected(self) -> None:
        """After a broker outage the daemon sends every lamp its level again."""
        self.lighting.resend_all()


def as_commands(out: list[Outgoing]) -> list[Command]:
    return [
        Command(o.command.ts, o.segment, o.command.level, o.command.ramp_s, o.command.reason)
        for o in out
    ]
