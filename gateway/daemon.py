"""The daemon: one MQTT session, a receive task and a tick task, reconnects, reloads, stops.

Shutdown follows aiomqtt's habit: stop taking new work, let the message or tick in progress
finish (they hold `_busy`), then cancel the tasks and await them, then disconnect.
"""

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping

from controllers.settings import ConfigError
from gateway.config import Settings
from gateway.ingest.intake import Intake, Rejection
from gateway.ingest.readings import Spooled
from gateway.lighting.control import Lighting, Outgoing
from gateway.lighting.services import LightingServices
from gateway.logs import event
from gateway.mqtt.client import Client, MqttError, client_for
from gateway.mqtt.inbox import Inbox
from gateway.mqtt.publisher import Publisher
from gateway.ops.housekeeping import Housekeeping
from gateway.ops.metrics import Metrics
from gateway.ops.watch import FileWatch, watch_files
from gateway.pipeline import Outcome, Pipeline
from gateway.store.committer import Committer
from gateway.store.database import Writer, build_writer, last_drain
from gateway.store.deadletter import DeadLetterFile, letter
from gateway.store.spool import Spool, rows
from gateway.wire.clock import Clock

log = logging.getLogger("luciole.gateway")

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
PENDING_CALLS_WARNING = 10_000
DRAIN_TIMEOUT_S = 5.0
LAST_DRAIN_S = 10.0


class Daemon:
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
        self.intake = Intake(settings.site)
        self.pipeline = Pipeline(self.intake, self.lighting, self.services)
        self.spool = Spool(settings.spool_path)
        self.deadletters = DeadLetterFile(settings.deadletter_path)
        self.metrics = Metrics()
        self._tally: Counter[tuple[str, str, str | None]] = Counter()  # published per batch
        self._connected = False
        site = settings.site
        limits = (int(site.spool_quota_mb * 1024 * 1024), site.retention_s)
        self.housekeeping = Housekeeping(
            self.spool, self.metrics, site.metrics_port, self._healthy, limits
        )
        self._stopping = asyncio.Event()
        self._busy = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def _healthy(self) -> tuple[bool, str]:
        return (True, "ok") if self._connected else (False, "broker not connected")

    def stop(self) -> None:
        """Ask the daemon to finish what it is doing and exit (signal-handler safe)."""
        self._stopping.set()

    def request_reload(self) -> None:
        """Reload between messages and ticks, never in the middle of one (signal-handler safe)."""
        task = asyncio.get_running_loop().create_task(self._reload_when_idle(), name="reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload_when_idle(self) -> None:
        async with self._busy:
            self.reload()

    def reload(self) -> None:
        """Re-read the configuration; keep the running one if the new one is invalid."""
        if self._reload is None:
            event(log, logging.WARNING, "reload ignored: this daemon was not started from files")
            return
        try:
            new = self._reload()
        except ConfigError as error:
            for problem in error.problems:
                event(
                    log,
                    logging.ERROR,
                    "reload refused, keeping the running config",
                    problem=problem,
                )
            return
        old, self.settings = self.settings, new
        if new.site != old.site:
            if new.site.broker != old.site.broker:
                event(
                    log, logging.WARNING, "broker settings changed; restart the daemon to use them"
                )
            self.lighting = Lighting(new.site, new.policy, self._clock.now())
            self.services.replace_lighting(self.lighting, self._clock.now())
            self.intake = Intake(new.site)
            self.pipeline = Pipeline(self.intake, self.lighting, self.services)
            event(log, logging.INFO, "site reloaded; lamps will be sent their levels again")
        else:
            self.lighting.replace_policy(new.policy)
            event(log, logging.INFO, "policy reloaded", file=str(new.policy_path))
        self.config_watch.watch(new.files)

    async def run(self) -> None:
        """Serve MQTT and, when a database is configured, drain the spool into it."""
        writer = self._writer()
        storing = asyncio.create_task(writer.run(), name="store") if writer else None
        side = asyncio.create_task(self.housekeeping.run(), name="housekeeping")
        services = asyncio.create_task(self.services.run(self.spool), name="services")
        aside = [side, services]
        if self._reload is not None:
            watching = watch_files(self.config_watch, self.request_reload)
            aside.append(asyncio.create_task(watching, name="config-watch"))
        try:
            await self._mqtt()
        finally:
            for task in aside:
                task.cancel()
            await asyncio.gather(*aside, return_exceptions=True)
            self.services.close(self.spool, self._clock.now())  # before the last drain
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
                inbox = Inbox(client, mqtt5=self.settings.site.broker.protocol == "5")
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
        topics = self.lighting.topics
        routes = [(route.subscription, 1) for route in self.intake.routes]
        await client.subscribe([*routes, (topics.overrides, 1), *self.services.subscriptions])
        event(
            log,
            logging.INFO,
            "connected, listening for sensors",
            broker=self.settings.site.broker.url,
            segments=self.lighting.topology.size,
            devices=len(self.settings.site.devices),
        )
        self.lighting.resend_all()
        publisher = Publisher(client)
        committer = Committer(self.spool)
        tasks = [
            asyncio.create_task(self._receive(inbox, publisher, committer), name="receive"),
            asyncio.create_task(self._tick(publisher), name="tick"),
            asyncio.create_task(committer.run(), name="commit"),
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
            missing = await publisher.drain(DRAIN_TIMEOUT_S)
            if missing:
                event(
                    log,
                    logging.WARNING,
                    "disconnecting with unacknowledged messages",
                    count=missing,
                )
        finally:
            for task in [*tasks, stopping]:
                task.cancel()
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, inbox: Inbox, publisher: Publisher, committer: Committer) -> None:
        """Handle what arrived, in order; store its readings, then ack it, as one batch."""
        while True:
            batch = await inbox.batch()
            spooled: list[Spooled] = []
            async with self._busy:
                now_s = self._clock.now()  # they came in one read: one arrival time
                for message in batch:
                    spooled += await self._handle(publisher, message.topic, message.payload, now_s)
                self.lighting.settle()
                self.metrics.messages(self._tally)
                self._tally.clear()
            committer.add_rows(rows(spooled), inbox.acker(batch), len(batch))

    async def _tick(self, publisher: Publisher) -> None:
        while True:
            async with self._busy:
                now_s = self._clock.now()
                await self._publish(publisher, self.lighting.commands(now_s))
                for alert in self.services.tick(now_s):
                    await publisher.publish(alert.topic, alert.payload, qos=1, retain=alert.retain)
            await self._clock.sleep(self.settings.site.tick_s)

    async def _handle(
        self, publisher: Publisher, topic: str, payload: bytes, now_s: float
    ) -> list[Spooled]:
        """Act on one message; the readings it yielded, to be stored before the ack."""
        outcome = self.pipeline.dispatch(topic, payload, now_s)
        if outcome.source not in {"lamp_state", "override"}:  # metrics count sensor messages
            self._tally[outcome.source, outcome.verdict, _reason(outcome)] += 1
        if outcome.rejection is not None:
            await self._reject(publisher, topic, payload, outcome.rejection)
            return []
        if outcome.verdict == "duplicate":
            self.stats["duplicates"] += 1
        elif outcome.verdict == "accepted":
            self.stats["accepted"] += 1
        if outcome.target is not None:
            event(log, logging.INFO, "override applied", target=outcome.target)
        elif outcome.commands:
            event(log, logging.DEBUG, "presence", device=outcome.device_id)
        await self._publish(publisher, outcome.commands)
        return outcome.spooled

    async def _reject(
        self, publisher: Publisher, topic: str, payload: bytes, rejection: Rejection
    ) -> None:
        """Count it, log it, keep it in the dead-letter file and send it to the topic."""
        self.stats[f"rejected_{rejection.reason}"] += 1
        event(
            log,
            logging.WARNING,
            "message rejected",
            topic=topic,
            reason=rejection.reason,
            detail=rejection.detail,
        )
        record = letter(topic, rejection.reason, rejection.detail, payload, self._clock.now())
        await asyncio.to_thread(self.deadletters.write, record)
        if self.settings.site.deadletter_topic:
            await publisher.publish(self.lighting.topics.deadletter, json.dumps(record), qos=1)

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
            await publisher.publish(out.topic, out.command.model_dump_json(), qos=1, retain=True)
        self.stats["commands"] += len(commands)
        self.metrics.command(len(commands))

    async def _wait_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _reason(outcome: Outcome) -> str | None:
    return outcome.rejection.reason if outcome.rejection is not None else None
