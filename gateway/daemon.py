"""The daemon: one MQTT session, a receive task and a tick task, reconnects, reloads, stops.

Shutdown follows aiomqtt's habit: stop taking new work, let the message or tick in progress
finish (they hold `_busy`), then cancel the tasks and await them, then disconnect.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping

from gateway.config import Settings
from gateway.console.daemon_host import DaemonHost
from gateway.console.serving import start_console
from gateway.formats.common import MAX_PAYLOAD_BYTES
from gateway.handling import MessageHandling
from gateway.ingest.clocks import DeviceClocks
from gateway.ingest.readings import Normaliser
from gateway.lighting.authority import Authority, read_keys
from gateway.lighting.control import Lighting, Outgoing
from gateway.lighting.services import LightingServices
from gateway.lighting.voice import CommandWatch
from gateway.logs import event
from gateway.mqtt.client import Client, MqttError, client_for
from gateway.mqtt.inbox import Inbox
from gateway.mqtt.publisher import Publisher
from gateway.ops.admission import Admission
from gateway.ops.housekeeping import Housekeeping
from gateway.ops.metrics import Metrics
from gateway.ops.notify import Notifier
from gateway.ops.refusals import Refusals
from gateway.ops.watch import FileWatch, watch_files
from gateway.reloading import Reloading
from gateway.roles import RoleParts, lights
from gateway.services.city import CityServices
from gateway.store.committer import Committer
from gateway.store.database import Writer, build_writer, last_drain
from gateway.store.deadletter import EXCERPT_BYTES, DeadLetterFile, letter
from gateway.store.spool import Spool, SpoolRow
from gateway.wire.clock import Clock

log = logging.getLogger("luciole.gateway")

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
PENDING_CALLS_WARNING = 10_000
DRAIN_TIMEOUT_S = 5.0
LAST_DRAIN_S = 10.0
# Messages handled per turn of the receive task: then the tick, a stop request and the socket
# get their turn. A batch of 1,000 native readings is about 30 ms of decoding (33,000 a
# second through the intake, bench/replay.py), and under a flood of 20,000 refused messages a
# second SIGTERM takes 0.17 s (bench/flood.py; 30 s and more when a batch took all that was
# waiting); a backlog drains in batches of the broker's in-flight window (100 with
# config/mosquitto/luciole.conf), well under it, so ingestion keeps its batches.
RECEIVE_BATCH = 1000


class Daemon(MessageHandling, RoleParts, Reloading):
    """Built from validated settings; `run()` serves until `stop()` is called."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        reload: Callable[[], Settings] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.lighting = Lighting(settings.site, settings.policy, clock.now())
        self.services = LightingServices(self.lighting, clock.now())
        self.config_watch = FileWatch(settings.files)
        self.stats: Counter[str] = Counter()
        self._clock = clock
        self._reload = reload
        self._rng = rng or random.Random()
        self.metrics = Metrics()
        self.clocks = DeviceClocks(self.metrics.clock_implausible)  # kept across reloads
        self.intake = self._intake(settings, Normaliser())
        # Unreadable keys raise KeyUnavailableError (`luciole run` checks them first).
        keys = read_keys(settings.site.overrides, settings.site_path.parent)
        self.authority = Authority(keys, settings.site.overrides.max_clock_skew_s)  # kept
        self.watch = CommandWatch(self.lighting)
        self.city = CityServices(settings.site, settings.policy)
        self.pipeline = self._pipeline()
        self.spool = Spool(settings.spool_path)
        self.deadletters = DeadLetterFile(settings.deadletter_path)
        self.admission = Admission(settings.site)
        self.refusals = Refusals(self.deadletters)
        self._tally: Counter[tuple[str, str, str | None]] = Counter()  # published per batch
        self._connected = False
        site = settings.site
        limits = (int(site.spool_quota_mb * 1024 * 1024), site.retention_s)
        self.housekeeping = Housekeeping(
            self.spool, self.metrics, site.metrics_port, self._healthy, limits
        )
        self.notifier = Notifier.from_environ()  # systemd's, when it runs us (Type=notify)
        self.heard: dict[str, float] = {}  # device → when its last message was taken
        self._publisher: Publisher | None = None  # while connected
        self.console = DaemonHost(self, clock.now)
        self._stopping = asyncio.Event()
        self._busy = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def _healthy(self) -> tuple[bool, str]:
        return (True, "ok") if self._connected else (False, "broker not connected")

    @property
    def connected(self) -> bool:
        return self._connected

    def busy(self) -> asyncio.Lock:
        """Held by each message and tick in progress (the console's actions wait for it)."""
        return self._busy

    async def publish_commands(self, commands: list[Outgoing]) -> None:
        """Commands from outside the receive and tick tasks (the console); while the broker
        is away they go out with every lamp's level on reconnecting."""
        if self._publisher is not None:
            await self._publish(self._publisher, commands)

    def stop(self) -> None:
        """Ask the daemon to finish what it is doing and exit (signal-handler safe)."""
        self.notifier.stopping("stopping: storing and acknowledging what was received")
        self._stopping.set()

    async def run(self) -> None:
        """Serve MQTT and, when a database is configured, drain the spool into it."""
        lighting = lights(self.settings.role)
        if lighting:
            await self._restore_lighting()
        console = await start_console(self.settings, self.console) if lighting else None
        writer = self._writer()
        storing = asyncio.create_task(writer.run(), name="store") if writer else None
        aside = [asyncio.create_task(self.housekeeping.run(), name="housekeeping")]
        if lighting:
            aside.append(asyncio.create_task(self.services.run(self.spool), name="services"))
        if self._reload is not None:
            watching = watch_files(self.config_watch, self.request_reload)
            aside.append(asyncio.create_task(watching, name="config-watch"))
        try:
            await self._mqtt()
        finally:
            for task in aside:
                task.cancel()
            await asyncio.gather(*aside, return_exceptions=True)
            if console is not None:
                await console.cleanup()
            self.services.close(self.spool, self._clock.now())  # before the last drain
            # What was counted and learnt since the last rows (`_lighting_rows`).
            self.spool.append_rows(self._lighting_rows(self._clock.now(), last=True))
            if writer is not None and storing is not None:
                storing.cancel()
                await asyncio.gather(storing, return_exceptions=True)
                await last_drain(writer, self.spool, LAST_DRAIN_S)
                writer.close()
            self.spool.close()
        event(log, logging.INFO, "stopped", **dict(self.stats))

    def _writer(self) -> Writer | None:
        def refused(reading: Mapping[str, object], why: str) -> None:
            body = json.dumps(reading).encode()
            self.deadletters.write(
                letter("(storage)", "database_rejected", why, body, self._clock.now())
            )

        return build_writer(self.settings.site.influx, self.spool, refused, self.metrics.stored)

    async def _mqtt(self) -> None:
        """Connect, serve, and reconnect with backoff and jitter until stopped."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                client = self._client()
                inbox = Inbox(
                    client,
                    mqtt5=self.settings.site.broker.protocol == "5",
                    max_payload=MAX_PAYLOAD_BYTES,
                    head_bytes=EXCERPT_BYTES,
                )
                async with client:
                    attempt = 0
                    await self._serve(client, inbox)
            except MqttError as error:
                if self._stopping.is_set():
                    break
                delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2**attempt) * self._rng.uniform(0.5, 1)
                attempt += 1
                self.stats["reconnects"] += 1
                self.metrics.reconnect()
                event(
                    log,
                    logging.WARNING,
                    "broker unreachable or connection lost; retrying",
                    broker=self.settings.site.broker.url,
                    error=str(error),
                    retry_in_s=round(delay, 2),
                )
                self.notifier.status(f"broker unreachable, retrying in {delay:.0f} s: {error}")
                await self._wait_stopping(delay)

    def _client(self) -> Client:
        return client_for(self.settings.site.broker, self.settings.site_path.parent)

    async def _serve(self, client: Client, inbox: Inbox) -> None:
        self._connected = True
        self.metrics.connected(True)
        try:
            await self._serve_connected(client, inbox)
        finally:
            self._connected = False
            self.metrics.connected(False)

    async def _serve_connected(self, client: Client, inbox: Inbox) -> None:
        await client.subscribe(self._subscriptions())
        role, site = self.settings.role, self.settings.site
        event(
            log,
            logging.INFO,
            "connected, listening for sensors",
            broker=site.broker.url,
            segments=self.lighting.topology.size,
            devices=len(site.devices),
            **({} if role == "all" else {"role": role}),
            **({"district": self.settings.district.name} if self.settings.district else {}),
        )
        self.notifier.ready(self._status())  # connected and subscribed: serving
        publisher = self._publisher = Publisher(client)
        committer = Committer(self.spool)
        if lights(role):
            await self._start_lighting(publisher)  # before the first message is taken
        beat = self._tick(publisher, committer) if lights(role) else self._heartbeat()
        tasks = [
            asyncio.create_task(self._receive(inbox, publisher, committer), name="receive"),
            asyncio.create_task(beat, name="tick" if lights(role) else "heartbeat"),
            asyncio.create_task(committer.run(), name="commit"),
            asyncio.create_task(self._summarise(publisher), name="refusals"),
        ]
        stopping = asyncio.create_task(self._stopping.wait(), name="stopping")
        try:
            await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
            async with self._busy:  # let the message or tick in progress finish
                for task in [*tasks, stopping]:
                    task.cancel()
            await asyncio.gather(*tasks, stopping, return_exceptions=True)
            await committer.flush()  # what was received is stored and acked before leaving
            inbox.flush_acks()
            await self._close_refusals(publisher)
            missing = await publisher.drain(DRAIN_TIMEOUT_S)
            if missing:
                event(
                    log,
                    logging.WARNING,
                    "disconnecting with unacknowledged messages",
                    count=missing,
                )
        finally:
            self._publisher = None
            for task in [*tasks, stopping]:
                task.cancel()
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, inbox: Inbox, publisher: Publisher, committer: Committer) -> None:
        """Handle what arrived, in order, RECEIVE_BATCH at most at a time; store its readings,
        then ack it, as one batch. Messages over their source's budget are shed first."""
        while True:
            batch = await inbox.batch(RECEIVE_BATCH)
            prepared: list[SpoolRow] = []
            async with self._busy:
                now_s = self._clock.now()  # they came in one read: one arrival time
                for message in batch:
                    if self._admitted(message, now_s):
                        prepared += await self._take(publisher, message, now_s)
                prepared += await self._serve_city(publisher, now_s) + self._lighting_rows(now_s)
                self.lighting.settle()
                self.metrics.messages(self._tally)
                self._tally.clear()
                await self.refusals.send(publisher.publish, self._letter_topic)
            committer.add_rows(prepared, inbox.acker(batch), len(batch))
            if inbox.waiting:  # a flood: the stop request, the tick and the socket come first
                await asyncio.sleep(0)

    @property
    def _letter_topic(self) -> str | None:
        return self.lighting.topics.deadletter if self.settings.site.deadletter_topic else None

    async def _summarise(self, publisher: Publisher) -> None:
        """Every interval of the refusals' real clock: their summary (gateway/ops/refusals)."""
        while True:
            await asyncio.sleep(self.refusals.interval_s)
            async with self._busy:
                await self._close_refusals(publisher)

    async def _close_refusals(self, publisher: Publisher) -> None:
        await self.refusals.close(publisher.publish, self._letter_topic, self._clock.now())

    async def _tick(self, publisher: Publisher, committer: Committer) -> None:
        while True:
            async with self._busy:
                now_s = self._clock.now()
                await self._publish(publisher, self.lighting.commands(now_s))
                for alert in self.services.tick(now_s):
                    await publisher.publish(alert.topic, alert.payload, qos=1, retain=alert.retain)
                found = await self._serve_city(publisher, now_s)  # the time-driven rules
                if found:
                    committer.add_rows(found, _nothing_to_ack, 0)
            self.notifier.tick(time.monotonic())  # a stuck control loop stops the pings
            await self._clock.sleep(self.settings.site.tick_s)

    def _status(self) -> str:
        """The line `systemctl status` shows."""
        site = self.settings.site
        return (
            f"serving {site.site.id}: {self.lighting.topology.size} segments, "
            f"{len(site.devices)} devices, broker {site.broker.url}"
        )

    async def _wait_stopping(self, seconds: float) -> None:
        """Wait `seconds` or until asked to stop. The watchdog is fed meanwhile: waiting for
        the broker between retries is the daemon doing its work (a backoff reaches 30 s, as
        long as a usual WatchdogSec), not a stuck loop."""
        deadline_s = time.monotonic() + seconds
        step_s = (self.notifier.watchdog_interval_s or seconds) / 2
        while not self._stopping.is_set() and (left_s := deadline_s - time.monotonic()) > 0:
            self.notifier.tick(time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=min(left_s, step_s))


def _nothing_to_ack() -> None:
    """Rows of the tick came from no message."""
