"""What the daemon does around the lighting besides sending commands: lamp feedback and
alerts, energy accounting, and storing both.

The daemon calls `handles`/`lamp_state` for incoming lamp states, `tick` after each round of
commands (it returns the alert messages to publish), runs `run()` as a task beside the others
and `close()` before closing the spool. Rows are written from `run()`, outside the daemon's
busy lock, so a spool commit never delays a presence command.
"""

import asyncio
import logging
import sqlite3

from gateway.lighting.control import Lighting
from gateway.lighting.energy import EnergyLog
from gateway.lighting.feedback import Feedback, Message
from gateway.logs import event
from gateway.store.spool import Spool, SpoolRow

log = logging.getLogger("luciole.gateway")

FLUSH_S = 1.0


class LightingServices:
    """Feedback and energy for one site's lighting."""

    def __init__(self, lighting: Lighting, now_s: float) -> None:
        self._lighting = lighting
        self._feedback = Feedback(lighting)
        self._energy = EnergyLog(lighting.topology, now_s)
        self._pending: list[SpoolRow] = []

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self._lighting.topics.lamp_states, 1)]

    @property
    def feedback(self) -> Feedback:
        return self._feedback

    @property
    def energy(self) -> EnergyLog:
        return self._energy

    def handles(self, topic: str) -> bool:
        return self._feedback.handles(topic)

    def lamp_state(self, topic: str, payload: bytes) -> str | None:
        """A lamp's state message; an error text when it cannot be used."""
        return self._feedback.state(topic, payload)

    def tick(self, now_s: float) -> list[Message]:
        """After the lighting stepped: book energy, compare feedback; alerts to publish."""
        step = self._lighting.last_step
        if step is None:
            return []
        policy = self._lighting.policy
        self._energy.tick(step, now_s)
        if self._energy.due(now_s, policy.energy.interval_s):
            self._pending += self._energy.rows(now_s)
        messages, rows = self._feedback.evaluate(now_s, policy.alerts)
        self._pending += rows
        for message in messages:
            event(log, logging.WARNING, "lamp alert", topic=message.topic, payload=message.payload)
        return messages

    def replace_lighting(self, lighting: Lighting, now_s: float) -> None:
        """A new site (a reload changed it): new feedback and meter; the energy booked so far
        and the rows not yet stored are kept."""
        self._pending += self._energy.rows(now_s)
        old = self._feedback
        self._lighting = lighting
        self._feedback = Feedback(lighting)
        self._feedback.restore(old.snapshots())  # alerts in force stay, by segment id
        self._energy = EnergyLog(lighting.topology, now_s)

    async def run(self, spool: Spool) -> None:
        """Until cancelled: store the pending rows every `FLUSH_S`."""
        while True:
            await asyncio.sleep(FLUSH_S)
            await self._store(spool)

    def close(self, spool: Spool, now_s: float) -> None:
        """On stop: the energy of the interval so far and every pending row, stored now."""
        self._pending += self._energy.rows(now_s)
        self._store_now(spool)

    async def _store(self, spool: Spool) -> None:
        if self._pending:
            await asyncio.to_thread(self._store_now, spool)

    def _store_now(self, spool: Spool) -> None:
        """Append the pending rows; on a database error they wait for the next try."""
        rows, self._pending = self._pending, []
        try:
            spool.append_rows(rows)
        except sqlite3.Error as error:
            self._pending = rows + self._pending
            event(log, logging.ERROR, "cannot store alerts and energy yet", error=str(error))
            return
        event(log, logging.DEBUG, "lighting rows stored", rows=len(rows))
