"""Outgoing MQTT messages without waiting for each acknowledgement, with a bound.

Waiting for every PUBACK before handling the next sensor message would tie the daemon's
throughput to the broker's round trip; paho keeps QoS 1 messages until they are acknowledged
(and resends them), so the daemon hands them over and moves on. The number of messages not
yet acknowledged is bounded: past it, the sender waits (backpressure, nothing is dropped).
"""

import asyncio
import logging

import aiomqtt

from gateway.logs import event

log = logging.getLogger("luciole.gateway")

MAX_IN_FLIGHT = 1000


class Publisher:
    """Publishes through one connected client; `drain()` before disconnecting."""

    def __init__(self, client: aiomqtt.Client, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._client = client
        self._max_in_flight = max_in_flight
        self._in_flight: set[asyncio.Task[None]] = set()
        self.failed = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> None:
        """Queue one message in order; waits only while too many are unacknowledged."""
        while len(self._in_flight) >= self._max_in_flight:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        # Tasks start in creation order and paho queues at the call, so order is kept.
        task = asyncio.create_task(self._client.publish(topic, payload, qos=qos, retain=retain))
        self._in_flight.add(task)
        task.add_done_callback(self._settled)

    async def drain(self, timeout_s: float) -> int:
        """Wait for every acknowledgement (up to `timeout_s`); how many are still missing."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout_s)
        return len(self._in_flight)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        self.failed += 1
        event(
            log,
            logging.WARNING,
            "publish failed; it will be resent after reconnecting",
            error=str(task.exception()),
        )
