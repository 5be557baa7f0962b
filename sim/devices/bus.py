"""The simulated hardware on the broker: it speaks the wire contract exactly like real devices.

Sensors publish what `sim.devices.sensors` builds; lamps listen on `lamp/+/set`, drive
`sim.devices.lamps`, and answer on `lamp/{segment}/state`. The gateway cannot tell these from
a real street.
"""

import asyncio
import logging
from collections.abc import Iterable

import aiomqtt
from pydantic import ValidationError

from controllers.topology import Topology
from gateway.wire.clock import Clock
from gateway.wire.payloads import LampCommand, LampState
from gateway.wire.topics import Topics
from sim.devices.lamps import LampReport, SimLamps
from sim.devices.sensors import Outgoing

log = logging.getLogger(__name__)

# aiomqtt warns above ten unacknowledged publishes; stay under it.
_IN_FLIGHT = 200


class Outbox:
    """A bounded queue in front of one MQTT client, drained by `run`, drops counted.

    The simulated world must keep its (accelerated) pace even when the broker is slow: devices
    never wait for an acknowledgement, they queue, as a radio module with a send buffer would.
    """

    def __init__(self, capacity: int = 5000) -> None:
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=capacity)
        self._unsent: list[Outgoing] = []  # a batch the broker did not take: sent first next time
        self.dropped = 0
        self.sent = 0

    def offer(self, messages: Iterable[Outgoing]) -> None:
        """Queue without waiting; what does not fit is dropped and counted."""
        for message in messages:
            try:
                self._queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1

    async def run(self, client: aiomqtt.Client) -> None:
        """Publish in order, up to `_IN_FLIGHT` at a time, until cancelled or disconnected
        (then the batch in hand is kept for the next connection, as a device keeps it)."""
        while True:
            batch, self._unsent = self._unsent or [await self._queue.get()], []
            while len(batch) < _IN_FLIGHT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.gather(*(client.publish(m.topic, m.body, qos=m.qos) for m in batch))
            except aiomqtt.MqttError:
                self._unsent = batch
                raise
            self.sent += len(batch)


class LampDevices:
    """Every segment's lamp driver as one MQTT participant; state goes out through `outbox`."""

    def __init__(
        self, lamps: SimLamps, topology: Topology, topics: Topics, clock: Clock, outbox: Outbox
    ) -> None:
        self.lamps = lamps
        self._topology = topology
        self._topics = topics
        self._clock = clock
        self._outbox = outbox
        self.rejected = 0

    async def serve(self, client: aiomqtt.Client) -> None:
        """Apply commands as they arrive, until cancelled or disconnected."""
        await client.subscribe(self._topics.lamp_set("+"), qos=1)
        async for message in client.messages:
            now_s = self._clock.now()
            report = self.handle(message.topic.value, _as_bytes(message.payload), now_s)
            if report is not None:
                self._outbox.offer([self.state_message(report, now_s)])

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
        return self.lamps.command(segment, command.level, command.ramp_s, now_s, command.reason)

    def watchdog(self, now_s: float) -> None:
        """Fall back where commands stopped, and say so on the state topics."""
        reports = self.lamps.check_watchdog(now_s)
        self._outbox.offer(self.state_message(report, now_s) for report in reports)

    def state_message(self, report: LampReport, now_s: float) -> Outgoing:
        state = LampState(
            level=report.level, power_w=report.power_w, status=report.status, ts=now_s
        )
        topic = self._topics.lamp_state(self._topology.ids[report.segment])
        # QoS 0: state is refreshed on every command; a lost one is replaced by the next.
        return Outgoing(topic, state.model_dump_json(exclude_none=True), qos=0)

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
