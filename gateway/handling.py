"""The daemon's work on each message: admission, dispatch, what the outcome asks for.

`MessageHandling` is the half of `gateway.daemon.Daemon` that one received message goes
through: its source's budget (shed when over), the pipeline's dispatch, then publishing the
commands and alerts it triggered, counting it, and handing a refusal to the dead-letter. The
city services' step after each batch and the restore of their state at start-up are here too.
The daemon keeps the lifecycle (connect, tasks, reload, stop); the attributes declared below
are the ones it builds and replaces on reload.
"""

import asyncio
import logging
import os
from collections import Counter
from pathlib import Path

from gateway.config import Settings
from gateway.console.daemon_host import ACKS_ROOM, DaemonHost
from gateway.formats.common import MAX_PAYLOAD_BYTES
from gateway.ingest.intake import Intake, Rejection
from gateway.ingest.readings import PedestrianReading
from gateway.lighting import persist as lighting_state
from gateway.lighting.control import Lighting, Outgoing
from gateway.lighting.feedback import ALERTS_ROOM as LAMP_ALERTS_ROOM
from gateway.lighting.overrides import log_override
from gateway.lighting.services import LightingServices
from gateway.lighting.voice import CommandWatch
from gateway.logs import event
from gateway.mqtt.inbox import Received
from gateway.mqtt.publisher import Publisher
from gateway.ops.admission import Admission
from gateway.ops.metrics import Metrics
from gateway.ops.refusals import Refusals
from gateway.pipeline import Outcome, Pipeline
from gateway.roles import explains_refusals, stores_readings
from gateway.services.city import ALERTS_ROOM, CityServices
from gateway.store.deadletter import Excerpt
from gateway.store.spool import Spool, SpoolRow, rows
from gateway.wire.clock import Clock

log = logging.getLogger("luciole.gateway")

SHED = "over its source's budget: not decoded (gateway/ops/admission.py)"
# Tests only: after publishing an alert, before its batch (readings, state) is committed, wait
# on this path (a FIFO nobody writes to), so that a `kill -9` lands inside that window.
HOLD_AFTER_ALERT_ENV = "LUCIOLE_TEST_HOLD_AFTER_ALERT"


class MessageHandling:
    """Per-message handling for the daemon (see the module docstring)."""

    settings: Settings
    pipeline: Pipeline
    lighting: Lighting
    intake: Intake
    watch: CommandWatch
    city: CityServices
    services: LightingServices
    admission: Admission
    refusals: Refusals
    metrics: Metrics
    spool: Spool
    stats: Counter[str]
    _tally: Counter[tuple[str, str, str | None]]
    _clock: Clock
    _flows_changed: bool = False
    _flows_stored_s: float = -float("inf")
    heard: dict[str, float]
    console: DaemonHost

    def _admitted(self, message: Received, now_s: float) -> bool:
        """Whether its source is within budget; if not, it is shed (counted, acked, unread)."""
        source = self.admission.shed(message.topic, now_s)
        if source is not None:
            self.stats["shed"] += 1
            self._tally[self._format(message.topic), "rejected", "shed"] += 1
            self.refusals.refused(message.topic, source.key, "shed", SHED)
        return source is None

    async def _take(self, publisher: Publisher, message: Received, now_s: float) -> list[SpoolRow]:
        """One admitted message; a third-party topic that yields readings is registered."""
        if message.oversize is not None:  # only its first bytes were kept
            size, digest = message.oversize
            self._tally[self._format(message.topic), "rejected", "too_large"] += 1
            detail = f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES}"
            excerpt = Excerpt(message.payload, size, digest)
            await self._reject(publisher, message.topic, excerpt, Rejection("too_large", detail))
            return []
        found = await self._handle(publisher, message.topic, message.payload, now_s)
        if found:
            self.admission.learn(message.topic)
        return found

    def _format(self, topic: str) -> str:
        route = self.intake.route(topic)
        return route.format if route is not None else "unrouted"

    async def _serve_city(self, publisher: Publisher, now_s: float) -> list[SpoolRow]:
        """The city services' step: alerts and the collection list published, and the rows
        (alerts, events, state) to store with the batch's readings."""
        served = self.pipeline.serve(now_s)
        alerted = False
        for message in served.messages:
            if "/alert/" in message.topic:
                alerted = True
                event(log, logging.WARNING, "alert", topic=message.topic, payload=message.payload)
            await publisher.publish(message.topic, message.payload, qos=1, retain=message.retain)
        hold = os.environ.get(HOLD_AFTER_ALERT_ENV)
        if alerted and hold:
            await _hold(Path(hold))
        return served.rows

    def _restore_state(self) -> None:
        """What the last run stored (worker thread): overrides and flows, then the bins' and
        meters' state."""
        now_s = self._clock.now()
        stored = self.spool.state(lighting_state.ROOM)
        overridden, flows = lighting_state.restore(self.lighting, stored, now_s)
        speeds = lighting_state.restore_speeds(self.lighting, stored)
        if overridden or flows or speeds:
            event(
                log,
                logging.INFO,
                "lighting restored",
                overrides=overridden,
                flows=flows,
                speed_samples=speeds,
            )
        self.console.restore_acks(self.spool.state(ACKS_ROOM))
        held = self.services.feedback.restore(self.spool.state(LAMP_ALERTS_ROOM))
        if held:
            event(log, logging.INFO, "lamp alerts restored", active=held)
        self._restore_city()

    def _restore_city(self) -> None:
        stored = {room: self.spool.state(room) for room in ("bins", "water", ALERTS_ROOM)}
        restored = self.city.restore(stored)
        for device_id, (total_m3, ts_s) in self.city.meter_indexes().items():
            self.intake.normaliser.remember_meter(device_id, total_m3, ts_s)
        if restored or self.city.active:
            event(
                log,
                logging.INFO,
                "city services restored",
                devices=restored,
                active_alerts=len(self.city.active),
            )

    async def _handle(
        self, publisher: Publisher, topic: str, payload: bytes, now_s: float
    ) -> list[SpoolRow]:
        """Act on one message; the rows it yielded, to be stored before the ack."""
        outcome = self.pipeline.dispatch(topic, payload, now_s)
        if outcome.source not in _NOT_SENSORS:  # metrics count sensor messages
            self._tally[outcome.source, outcome.verdict, _reason(outcome)] += 1
        self._note(outcome)
        if outcome.rejection is not None:
            if explains_refusals(self.settings.role, outcome.source in _NOT_SENSORS):
                await self._reject(publisher, topic, payload, outcome.rejection)
            return outcome.rows  # a refused override's record
        if outcome.verdict == "duplicate":
            self.stats["duplicates"] += 1
        elif outcome.verdict == "accepted":
            self.stats["accepted"] += 1
            if outcome.device_id is not None:
                self.heard[outcome.device_id] = now_s
        elif outcome.commands and outcome.source not in _NOT_SENSORS:
            event(log, logging.DEBUG, "presence", device=outcome.device_id)
        await self._publish(publisher, outcome.commands)
        for alert in outcome.alerts:
            await publisher.publish(alert.topic, alert.payload, qos=1, retain=alert.retain)
        found = rows(outcome.spooled) if stores_readings(self.settings.role) else []
        found += outcome.rows
        if outcome.source == "override" and outcome.verdict == "applied":
            found.append(lighting_state.overrides_row(self.lighting, now_s))
        if any(isinstance(r, PedestrianReading) for r in outcome.readings):
            self._flows_changed = True  # stored with a batch (`_lighting_rows`)
        return found

    def _lighting_rows(self, now_s: float, last: bool = False) -> list[SpoolRow]:
        """The traffic flows and the learnt speeds, when walkers were counted: stored with the
        batch's readings at most every STATE_EVERY_S (each row holds every counter of the
        site: at 10,000 segments, writing it with every batch took a fifth of a core), and
        on the way out (`last`)."""
        due = now_s - self._flows_stored_s >= lighting_state.STATE_EVERY_S
        if not self._flows_changed or not (due or last):
            return []
        self._flows_changed = False
        self._flows_stored_s = now_s
        found = [lighting_state.flows_row(self.lighting, now_s)]
        speeds = lighting_state.speeds_row(self.lighting, now_s)
        return found if speeds is None else [*found, speeds]

    def _note(self, outcome: Outcome) -> None:
        """Log and count overrides (taken or refused) and commands the daemon did not send."""
        if outcome.override is not None:
            log_override(outcome.override)
            self.metrics.override(outcome.verdict)
        elif outcome.verdict == "foreign":
            self.stats["foreign_commands"] += 1
            self.metrics.foreign_command()
        for alert in outcome.alerts:
            event(log, logging.WARNING, "lamp alert", topic=alert.topic, payload=alert.payload)

    async def _reject(
        self, publisher: Publisher, topic: str, payload: bytes | Excerpt, rejection: Rejection
    ) -> None:
        """Count it and hand it to the refusals: sampled in the log, its letter to the file
        and (within the topic's budget) to the topic, once per batch (`_receive`)."""
        self.stats[f"rejected_{rejection.reason}"] += 1
        source = self.admission.source(topic).key
        self.refusals.reject(
            topic,
            source,
            rejection.reason,
            rejection.detail,
            payload=payload,
            received_s=self._clock.now(),
        )

    async def _publish(self, publisher: Publisher, commands: list[Outgoing]) -> None:
        for out in commands:
            event(
                log,
                logging.DEBUG,
                "lamp command",
                segment=out.segment,
                level=out.command.level,
                reason=out.command.reason,
                **(self.lighting.explain(out.segment) if log.isEnabledFor(logging.DEBUG) else {}),
            )
            payload = out.command.model_dump_json()
            self.watch.published(out.segment, payload.encode())  # to know its echo
            await publisher.publish(out.topic, payload, qos=1, retain=True)
        self.stats["commands"] += len(commands)
        self.metrics.command(len(commands))


async def _hold(path: Path) -> None:
    event(log, logging.WARNING, "test hook: holding after an alert", path=str(path))
    await asyncio.to_thread(path.read_bytes)  # the event loop goes on: the alert goes out


_NOT_SENSORS = frozenset({"lamp_state", "override", "lamp_command"})


def _reason(outcome: Outcome) -> str | None:
    return outcome.rejection.reason if outcome.rejection is not None else None
