"""The simulated hardware on the broker: it speaks the wire contract exactly like real devices.

Sensors publish what `sim.sensors` builds; lamps listen on `lamp/+/set`, drive `sim.lamps`, and
answer on `lamp/{segment}/state`. The gateway cannot tell these from a real street.
"""

import logging
from collections.abc import Iterable

import aiomqtt
from pydantic import ValidationError

from controllers.topology import Topology
from gateway.clock import Clock
from gateway.topics import Topics
from gateway.wire import LampCommand, LampState
from sim.lamps import LampReport, SimLamps
from sim.sensors import Outgoing

log = logging.getLogger(__name__)


async def publish_all(client: aiomqtt.Client, messages: Iterable[Outgoing]) -> int:
    """Publish in order (QoS as each message says); returns how many were sent."""
    sent = 0
    for message in messages:
        await client.publish(message.topic, message.payload, qos=message.qos)
        sent += 1
    return sent


class LampDevices:
    """Every segment's lamp driver as one MQTT participant."""

    def __init__(self, lamps: SimLamps, topology: Topology, topics: Topics, clock: Clock) -> None:
        self.lamps = lamps
        self._topology = topology
        self._topics = topics
        self._clock = clock
        self.rejected = 0

    async def serve(self, client: aiomqtt.Client) -> None:
        """Apply commands as they arrive, until cancelled or disconnected."""
        await client.subscribe(self._topics.lamp_set("+"), qos=1)
        async for message in client.messages:
            now_s = self._clock.now()
            report = self.handle(message.topic.value, _as_bytes(message.payload), now_s)
            if report is not None:
                await self.publish(client, report, now_s)

    def handle(self, topic: str, payload: bytes, now_s: float) -> LampReport | None:
        """Apply one command message; a bad one is counted and ignored, as a driver would."""
        segment = self._segment_of(topic)
        try:
            command = LampCommand.model_validate_json(payload)
        except ValidationError as error:
            self.rejected += 1
            log.warning("lamp command on %s rejected: %s", topic, error.errors()[0]["msg"])
            return None
        if segment is None:
            self.rejected += 1
            log.warning("lamp command for an unknown segment: %s", topic)
            return None
        return self.lamps.command(segment, command.level, command.ramp_s, now_s)

    async def watchdog(self, client: aiomqtt.Client, now_s: float) -> None:
        """Fall back where commands stopped, and say so on the state topics."""
        for report in self.lamps.check_watchdog(now_s):
            await self.publish(client, report, now_s)

    async def publish(self, client: aiomqtt.Client, report: LampReport, now_s: float) -> None:
        state = LampState(
            level=report.level, power_w=report.power_w, status=report.status, ts=now_s
        )
        topic = self._topics.lamp_state(self._topology.ids[report.segment])
        # QoS 0: state is refreshed on every command; a lost one is replaced by the next.
        await client.publish(topic, state.model_dump_json(exclude_none=True), qos=0)

    def _segment_of(self, topic: str) -> int | None:
        prefix, suffix = f"{self._topics.root}/lamp/", "/set"
        if not (topic.startswith(prefix) and topic.endswith(suffix)):
            return None
        try:
            return self._topology.index_of(topic[len(prefix) : -len(suffix)])
        except KeyError:
            return None


def _as_bytes(payload: object) -> bytes:
    """aiomqtt types payloads broadly; over the network they are bytes (or empty)."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload or "").encode()
