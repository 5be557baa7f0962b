"""The per-message dispatch, pure: one MQTT message in, what the daemon must do about it out.

A lamp's state goes to the feedback rules, a lamp command to the command watch (the daemon's
own come back; another's is corrected), an override through its authority to the lighting, a
sensor message through the intake (decode, registry, de-duplication) and its readings to the
lighting and the city services (stepped once per batch of messages, `serve`). The daemon
(`gateway.daemon`) and the offline replay (`sim.runs.offline`) both call `dispatch`, so a
replayed trace gives the daemon's own commands and alerts: no second copy that could drift.
Nothing here does I/O: the caller stores, publishes, logs and dead-letters what `Outcome` says.
"""

from dataclasses import dataclass, field
from typing import Literal, Protocol

from gateway.ingest.intake import Accepted, Duplicate, Elsewhere, Intake, Rejection
from gateway.ingest.readings import PedestrianReading, Reading, Spooled
from gateway.lighting.authority import Authority
from gateway.lighting.control import DIRECTION_SIGN, Lighting, Outgoing
from gateway.lighting.feedback import Message
from gateway.lighting.overrides import OverrideDesk, OverrideRecord, override_row
from gateway.lighting.voice import CommandWatch
from gateway.services.city import CityServices, Served
from gateway.store.spool import SpoolRow

# What the offline replay takes from the daemon, all of it through this module.
__all__ = [
    "DIRECTION_SIGN",
    "Accepted",
    "CityServices",
    "Intake",
    "LampStates",
    "Lighting",
    "Outcome",
    "Outgoing",
    "PedestrianReading",
    "Pipeline",
    "Rejection",
    "Served",
]

Verdict = Literal["accepted", "duplicate", "rejected", "applied", "foreign", "ignored"]


class LampStates(Protocol):
    """Where lamp state messages go (the daemon's feedback rules); offline there are none."""

    def handles(self, topic: str) -> bool: ...

    def lamp_state(self, topic: str, payload: bytes) -> str | None: ...


@dataclass(frozen=True)
class Outcome:
    """What one message asks of the caller.

    `source` is what counted it: a sensor route's format, `unrouted`, `override`,
    `lamp_state` or `lamp_command`. A rejected message carries its `rejection` (for the
    dead-letter); an accepted one its `readings` and `spooled` (to store before the ack);
    `commands` are the lamp commands it triggered, to publish at once (presence, an override,
    the correction of a foreign command); `alerts` are to publish too, and `rows` (an
    override's record, an alert) to store with the message. `override` is the record of an
    override, applied or refused, for the log.
    """

    source: str
    verdict: Verdict
    rejection: Rejection | None = None
    device_id: str | None = None
    readings: list[Reading] = field(default_factory=list)
    spooled: list[Spooled] = field(default_factory=list)
    commands: list[Outgoing] = field(default_factory=list)
    target: str | None = None  # the override's target, or the lamp command's segment
    override: OverrideRecord | None = None
    alerts: list[Message] = field(default_factory=list)
    rows: list[SpoolRow] = field(default_factory=list)


class Pipeline:
    """The intake and lighting of one site, where lamp states and lamp commands go, and who
    may override (None: nobody is checked, as offline)."""

    def __init__(
        self,
        intake: Intake,
        lighting: Lighting,
        lamp_states: LampStates | None = None,
        *,
        authority: Authority | None = None,
        watch: CommandWatch | None = None,
        services: CityServices | None = None,
        lights: bool = True,
        foreign_targets: frozenset[str] = frozenset(),
    ) -> None:
        self.intake = intake
        self.lights = lights  # False: an ingest worker, which only stores (`run --role`)
        self.foreign_targets = foreign_targets  # other districts' segments and streets
        self.lighting = lighting
        self.lamp_states = lamp_states
        self.watch = watch
        self.services = services
        self._overrides = OverrideDesk(lighting, authority)

    def listens_to(self, topic: str) -> bool:
        """Whether the daemon takes `topic` (its sources and the override topics)."""
        topics = self.lighting.topics
        return topics.parse_override(topic) is not None or self.intake.route(topic) is not None

    def dispatch(self, topic: str, payload: bytes, now_s: float) -> Outcome:
        """Act on one message received at `now_s`."""
        if self.lamp_states is not None and self.lamp_states.handles(topic):
            return self._lamp_state(topic, payload)
        if self.watch is not None and self.watch.handles(topic):
            return self._lamp_command(topic, payload, now_s)
        target = self.lighting.topics.parse_override(topic)
        if target in self.foreign_targets:
            return Outcome("override", "ignored", target=target)  # its district's to apply
        if target is not None:
            return self._override(topic, target, payload, now_s)
        return self._sensor(topic, payload, now_s)

    def serve(self, now_s: float) -> Served:
        """After a batch of messages: the city services' step (nothing without services)."""
        return self.services.step(now_s) if self.services is not None else Served()

    def _lamp_state(self, topic: str, payload: bytes) -> Outcome:
        assert self.lamp_states is not None
        problem = self.lamp_states.lamp_state(topic, payload)
        if problem is None:
            return Outcome("lamp_state", "applied")
        return Outcome("lamp_state", "rejected", Rejection("invalid_lamp_state", problem))

    def _lamp_command(self, topic: str, payload: bytes, now_s: float) -> Outcome:
        assert self.watch is not None
        heard = self.watch.heard(topic, payload, now_s)
        foreign = heard.verdict == "foreign"
        return Outcome(
            "lamp_command",
            "foreign" if foreign else "ignored",  # an own echo may end an alert
            # The correction of a foreign command: the lamp's level, sent again.
            commands=self.lighting.commands(now_s) if heard.at_once else [],
            target=heard.segment,
            alerts=heard.alerts,
            rows=heard.rows,
        )

    def _override(self, topic: str, target: str, payload: bytes, now_s: float) -> Outcome:
        result = self._overrides.message(topic, target, payload, now_s)
        verdict: Verdict = "rejected" if result.rejection is not None else "applied"
        return Outcome(
            "override",
            verdict,
            result.rejection,
            commands=result.commands,
            target=target,
            override=result.record,
            rows=[override_row(result.record, payload, now_s)],
        )

    def _sensor(self, topic: str, payload: bytes, now_s: float) -> Outcome:
        route = self.intake.route(topic)
        source = route.format if route is not None else "unrouted"
        result = self.intake.message(topic, payload, now_s, route)
        if isinstance(result, Rejection):
            return Outcome(source, "rejected", result)
        if isinstance(result, Duplicate):
            return Outcome(source, "duplicate", device_id=result.device_id)
        if isinstance(result, Elsewhere):
            return Outcome(source, "ignored", device_id=result.device_id)
        if not self.lights:
            return Outcome(source, "accepted", device_id=result.device_id, spooled=result.spooled)
        raised = [self.lighting.accept(reading, now_s) for reading in result.readings]
        if self.services is not None:
            for reading in result.readings:
                self.services.accept(reading)  # stepped once per batch: `serve`
        commands = self.lighting.commands(now_s) if any(raised) else []
        return Outcome(
            source,
            "accepted",
            device_id=result.device_id,
            readings=result.readings,
            spooled=result.spooled,
            commands=commands,
        )
