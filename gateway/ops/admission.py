"""Which messages the daemon decodes: per-source budgets, charged before anything is parsed.

Publishing costs a sender less than decoding, refusing and dead-lettering costs the daemon:
an unregistered device sending 20,000 messages a second kept every presence command from
coming (bench/flood.py measured none within 5 s, and a p50 of 0.8 s at 2,000 a second). So
each message is first charged to its *source*, a token bucket of its own:
- a native sensor topic's source is its device id; the topic of anything else (a network
  server's uplink topic, a lamp's state, an override) is its own source;
- a *registered* source (a device of the site, a lamp segment's state or command topic, a
  third-party topic that names a device's network id or has carried one of its readings, the
  override topics together) has a budget of its own, which no flood from elsewhere can spend;
- every other source has a small budget of its own and also draws from one pool that all of
  them share, so that a flood spread over made-up device ids is held as one.
A message over budget is *shed*: not decoded, acknowledged (MQTT would resend it otherwise),
counted under the reason `shed`, and reported by `gateway.ops.refusals` as counts, not one by
one. Budgets run on the daemon's clock, as the devices' rates do (the demo's run faster).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from controllers.settings import SiteConfig
from gateway.wire.topics import Topics

# A registered device is never shed for a backlog: the broker holds at most 128 MiB for the
# daemon's session (max_queued_bytes in config/mosquitto/luciole.conf), about 900,000 native
# readings, all of which may come from one device after an outage; bench/ingest.py drains
# 200,000 of one meter at once. Past that, 1,000 a second: a counter reporting every walker
# on a busy street sends a few.
REGISTERED_RATE = 1000.0
REGISTERED_BURST = 1_000_000.0
# An unregistered sender keeps a sample in the dead-letter file (normal sensors send well
# under one message a second, so a device not yet registered loses nothing of its story);
# together they are decoded at most 50 times a second: about 1.5 ms a second of decoding
# (33,000 native messages a second through the intake) and 18 KB/s of dead-letter file (a
# refusal's line is about 360 bytes), which its six 10 MB generations hold for most of an hour.
UNKNOWN_RATE = 1.0
UNKNOWN_BURST = 10.0
POOL_RATE = 50.0
POOL_BURST = 100.0
# Memory: topics and unknown sources remembered at most (then forgotten all at once: a
# forgotten unknown source gets a full small bucket back, the shared pool still holds).
MAX_REMEMBERED = 10_000
OVERRIDES = "(overrides)"  # the one source of every override topic


class TokenBucket:
    """`rate` tokens a second up to `burst`; a message takes one."""

    __slots__ = ("at_s", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now_s: float) -> None:
        self.rate, self.burst, self.tokens, self.at_s = rate, burst, burst, now_s

    def take(self, now_s: float) -> bool:
        """Take a token if there is one (a clock going back refills nothing)."""
        if now_s > self.at_s:
            self.tokens = min(self.burst, self.tokens + (now_s - self.at_s) * self.rate)
            self.at_s = now_s
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(frozen=True)
class Budgets:
    """Rates (per second) and bursts of the buckets; the defaults are argued above."""

    registered: tuple[float, float] = (REGISTERED_RATE, REGISTERED_BURST)
    unknown: tuple[float, float] = (UNKNOWN_RATE, UNKNOWN_BURST)
    pool: tuple[float, float] = (POOL_RATE, POOL_BURST)


class Source(NamedTuple):
    """Whom a message is charged to."""

    key: str
    registered: bool


class Admission:
    """The budgets of one site's sources."""

    def __init__(self, site: SiteConfig, budgets: Budgets | None = None) -> None:
        self.budgets = budgets or Budgets()
        self._topics = Topics(site.broker.topic_prefix, site.site.id)
        self._devices = frozenset(site.devices)
        self._network_ids = frozenset(
            name.lower() for device in site.devices.values() for name in device.network_ids
        )
        self._segments = frozenset(segment.id for segment in site.segments)
        self._sources: dict[str, Source] = {}
        self._charged: dict[str, tuple[Source, TokenBucket]] = {}  # per topic, as `_sources`
        self._learned: set[str] = set()
        self._registered: dict[str, TokenBucket] = {}
        self._unknown: dict[str, TokenBucket] = {}
        self._pool: TokenBucket | None = None

    def shed(self, topic: str, now_s: float) -> Source | None:
        """The source of a message over its budget (to shed it), or None: decode it. (Two
        look-ups and a bucket's arithmetic, about a microsecond: every message pays it.)"""
        source, bucket = self._charged.get(topic) or self._charge(topic, now_s)
        if bucket.take(now_s) and (source.registered or self._take_pool(now_s)):
            return None
        return source

    def learn(self, topic: str) -> None:
        """`topic` carried a registered device's reading: its source is registered now."""
        if topic in self._learned or self.source(topic).registered:
            return
        if len(self._learned) < MAX_REMEMBERED:
            self._learned.add(topic)
            self._sources.pop(topic, None)
            self._charged.pop(topic, None)

    def source(self, topic: str) -> Source:
        """Whom `topic` is charged to (remembered per topic: parsing costs more than a look-up)."""
        found = self._sources.get(topic)
        if found is None:
            if len(self._sources) >= MAX_REMEMBERED:
                self._sources.clear()
            found = self._sources[topic] = self._identify(topic)
        return found

    def _identify(self, topic: str) -> Source:
        sensor = self._topics.parse_sensor(topic)
        if sensor is not None:
            return Source(sensor[1], sensor[1] in self._devices)
        if self._topics.parse_override(topic) is not None:
            return Source(OVERRIDES, True)
        segment = self._topics.parse_lamp_state(topic) or self._topics.parse_lamp_set(topic)
        if segment is not None:  # a lamp's state, or a command (the daemon's own, or forged)
            return Source(topic, segment in self._segments)
        return Source(topic, topic in self._learned or self._names_a_device(topic.split("/")))

    def _names_a_device(self, levels: Iterable[str]) -> bool:
        """A level is a registered network id (ChirpStack's devEUI; The Things Stack's
        `eui-` device ids)."""
        ids = self._network_ids
        return any(level.lower().removeprefix("eui-") in ids for level in levels)

    def _charge(self, topic: str, now_s: float) -> tuple[Source, TokenBucket]:
        """The source of `topic` and its source's bucket, remembered for the topic."""
        if len(self._charged) >= MAX_REMEMBERED:
            self._charged.clear()
        source = self.source(topic)
        if source.registered:
            buckets, budget = self._registered, self.budgets.registered
        else:
            if len(self._unknown) >= MAX_REMEMBERED:
                self._unknown.clear()  # and what refers to them: memory stays bounded
                self._charged.clear()
            buckets, budget = self._unknown, self.budgets.unknown
        bucket = buckets.get(source.key)
        if bucket is None:
            bucket = buckets[source.key] = TokenBucket(*budget, now_s)
        self._charged[topic] = (source, bucket)
        return source, bucket

    def _take_pool(self, now_s: float) -> bool:
        if self._pool is None:
            self._pool = TokenBucket(*self.budgets.pool, now_s)
        return self._pool.take(now_s)
