"""The per-message dispatch, pure: one MQTT message in, what the daemon must do about it out.

A lamp's state goes to the feedback rules, an override to the lighting, a sensor message
through the intake (decode, registry, de-duplication) and its readings to the lighting. The
daemon (`gateway.daemon`) and the offline replay (`sim.runs.offline`) both call `dispatch`, so
a replayed trace gives the daemon's own commands: there is no second copy that could drift.
Nothing here does I/O: the caller stores, publishes, logs and dead-letters what `Outcome` says.
"""

from dataclasses import dataclass, field
from typing import Literal, Protocol

from gateway.ingest.intake import Accepted, Duplicate, Intake, Rejection
from gateway.ingest.readings import PedestrianReading, Reading, Spooled
from gateway.lighting.control import DIRECTION_SIGN, Lighting, Outgoing

# What the offline replay takes from the daemon, all of it through this module.
__all__ = [
    "DIRECTION_SIGN",
    "Accepted",
    "Intake",
    "LampStates",
    "Lighting",
    "Outcome",
    "Outgoing",
    "PedestrianReading",
    "Pipeline",
    "Rejection",
]

Verdict = Literal["accepted", "duplicate", "rejected", "applied"]


class LampStates(Protocol):
    """Where lamp state messages go (the daemon's feedback rules); offline there are none."""

    def handles(self, topic: str) -> bool: ...

    def lamp_state(self, topic: str, payload: bytes) -> str | None: ...


@dataclass(frozen=True)
class Outcome:
    """What one message asks of the caller.

    `source` is what counted it: a sensor route's format, `unrouted`, `override` or
    `lamp_state`. A rejected message carries its `rejection` (for the dead-letter); an
    accepted one its `readings` and `spooled` (to store before the ack); `commands` are the
    lamp commands it triggered, to publish at once (presence, an override).
    """

    source: str
    verdict: Verdict
    rejection: Rejection | None = None
    device_id: str | None = None
    readings: list[Reading] = field(default_factory=list)
    spooled: list[Spooled] = field(default_factory=list)
    commands: list[Outgoing] = field(default_factory=list)
    target: str | None = None  # the override's target


class Pipeline:
    """The intake and lighting of one site, and where lamp states go."""

    def __init__(
        self, intake: Intake, lighting: Lighting, lamp_states: LampStates | None = None
    ) -> None:
        self.intake = intake
        self.lighting = lighting
        self.lamp_states = lamp_states

    def listens_to(self, topic: str) -> bool:
        """Whether the daemon takes `topic` (its sources and the override topics)."""
        topics = self.lighting.topics
        return topics.parse_override(topic) is not None or self.intake.route(topic) is not None

    def dispatch(self, topic: str, payload: bytes, now_s: float) -> Outcome:
        """Act on one message received at `now_s`."""
        if self.lamp_states is not None and self.lamp_states.handles(topic):
            return self._lamp_state(topic, payload)
        target = self.lighting.topics.parse_override(topic)
        if target is not None:
            return self._override(target, payload, now_s)
        return self._sensor(topic, payload, now_s)

    def _lamp_state(self, topic: str, payload: bytes) -> Outcome:
        assert self.lamp_states is not None
        problem = self.lamp_states.lamp_state(topic, payload)
        if problem is None:
            return Outcome("lamp_state", "applied")
        return Outcome("lamp_state", "rejected", Rejection("invalid_lamp_state", problem))

    def _override(self, target: str, payload: bytes, now_s: float) -> Outcome:
        problem = self.lighting.override_message(target, payload, now_s)
        if problem is not None:
            rejection = Rejection("invalid_override", problem)
            return Outcome("override", "rejected", rejection, target=target)
        return Outcome("override", "applied", commands=self.lighting.commands(now_s), target=target)

    def _sensor(self, topic: str, payload: bytes, now_s: float) -> Outcome:
        route = self.intake.route(topic)
        source = route.format if route is not None else "unrouted"
        result = self.intake.message(topic, payload, now_s, route)
        if isinstance(result, Rejection):
            return Outcome(source, "rejected", result)
        if isinstance(result, Duplicate):
            return Outcome(source, "duplicate", device_id=result.device_id)
        raised = [self.lighting.accept(reading, now_s) for reading in result.readings]
        commands = self.lighting.commands(now_s) if any(raised) else []
        return Outcome(
            source,
            "accepted",
            device_id=result.device_id,
            readings=result.readings,
            spooled=result.spooled,
            commands=commands,
        )
