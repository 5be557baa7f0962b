"""What each role of `luciole run --role` subscribes to, and what it does with a reading.

- `all` (the default): one daemon stores every reading and lights the site.
- `ingest`: a worker that only stores. Its sensor subscriptions are shared
  (`$share/{group}/{filter}`, MQTT 5 shared subscriptions, which mosquitto also grants to
  3.1.1 clients), so N workers split the messages between them. Mosquitto deals a group's
  messages round-robin: one segment's detections would reach several workers out of order,
  so a worker never lights (tests/e2e/test_ingest_workers_e2e.py shows the split).
- `control`: the lighting and the city services, on plain subscriptions (every message, in
  order), leaving the storing of readings to the ingest workers; its spool keeps the state
  that survives a restart (overrides, flows, alerts), not the readings.

`RoleParts` is the part of `gateway.daemon.Daemon` that differs by role (and by district):
how its intake and pipeline are built, what it subscribes to, what it does on connecting.
"""

import asyncio
import time

from gateway.config import Role, Settings
from gateway.ingest.clocks import DeviceClocks
from gateway.ingest.intake import Intake, Route
from gateway.ingest.readings import Normaliser
from gateway.lighting.authority import Authority
from gateway.lighting.control import Lighting
from gateway.lighting.overrides import restore
from gateway.lighting.services import LightingServices
from gateway.lighting.voice import CommandWatch
from gateway.mqtt.publisher import Publisher
from gateway.ops.notify import Notifier
from gateway.pipeline import Pipeline
from gateway.services.city import CityServices
from gateway.store.spool import Spool
from gateway.wire.clock import Clock

QOS = 1


def lights(role: Role) -> bool:
    """Whether the role runs the lighting and the city services."""
    return role != "ingest"


def stores_readings(role: Role) -> bool:
    """Whether the role keeps the readings it takes (for the database)."""
    return role != "control"


def explains_refusals(role: Role, own_topic: bool) -> bool:
    """Whether the role dead-letters a refused message. A control daemon hears every sensor
    message and an ingest worker takes each one too: the worker, which stores, explains a
    refused reading (once), the control daemon only counts it; what is the lighting's own
    (overrides, lamp states) it explains itself."""
    return role != "control" or own_topic


def shared(topic_filter: str, group: str) -> str:
    """`topic_filter` as a member of the shared subscription `group`."""
    if topic_filter.startswith("$share/"):
        return topic_filter  # a source that asked for its own group keeps it
    return f"$share/{group}/{topic_filter}"


def sensor_subscriptions(role: Role, routes: list[Route], group: str) -> list[tuple[str, int]]:
    """The sensor routes' filters, shared among the group for an ingest worker."""
    if role == "ingest":
        return [(shared(route.subscription, group), QOS) for route in routes]
    return [(route.subscription, QOS) for route in routes]


class RoleParts:
    """What the daemon builds and does by role (see the module docstring)."""

    settings: Settings
    intake: Intake
    lighting: Lighting
    services: LightingServices
    authority: Authority
    watch: CommandWatch
    city: CityServices
    clocks: DeviceClocks
    spool: Spool
    notifier: Notifier
    _clock: Clock
    _busy: asyncio.Lock

    def _restore_state(self) -> None:  # the daemon's (gateway.handling)
        raise NotImplementedError

    def _intake(self, settings: Settings, normaliser: Normaliser) -> Intake:
        """An intake for `settings` (at start and on reload), with the devices' clocks and the
        meters' last indexes (`normaliser`) of the one before."""
        district = settings.district
        return Intake(
            settings.site,
            clocks=self.clocks,
            normaliser=normaliser,
            foreign_devices=district.foreign_devices if district else None,
        )

    def _pipeline(self) -> Pipeline:
        district = self.settings.district
        return Pipeline(
            self.intake,
            self.lighting,
            self.services,
            authority=self.authority,
            watch=self.watch,
            services=self.city,
            lights=lights(self.settings.role),
            foreign_targets=district.foreign_targets if district else frozenset(),
        )

    async def _restore_lighting(self) -> None:
        self.authority.announce(self.lighting.topics.overrides)
        if self.authority.enforced:  # what was signed before a restart stays taken
            await asyncio.to_thread(restore, self.authority, self.spool, self._clock.now())
        await asyncio.to_thread(self._restore_state)

    def _subscriptions(self) -> list[tuple[str, int]]:
        """The sensors (shared among an ingest group), then what the lighting listens to."""
        site, role = self.settings.site, self.settings.role
        found = sensor_subscriptions(role, self.intake.routes, site.broker.share_group)
        if not lights(role):
            return found
        overrides = (self.lighting.topics.overrides, 1)
        return [*found, overrides, *self.services.subscriptions, *self.watch.subscriptions]

    async def _start_lighting(self, publisher: Publisher) -> None:
        """Every lamp's level again, and the city services' retained state."""
        self.watch.connected()  # retained commands of the last run are not forgeries
        self.lighting.resend_all()
        for message in self.city.startup_messages(self._clock.now()):
            await publisher.publish(message.topic, message.payload, qos=1, retain=message.retain)

    async def _heartbeat(self) -> None:
        """An ingest worker has no control tick: it pings the watchdog once per tick_s when
        the message in progress lets it, so a stuck receive loop still stops the pings."""
        while True:
            async with self._busy:
                pass
            self.notifier.tick(time.monotonic())
            await self._clock.sleep(self.settings.site.tick_s)
