"""One MQTT message in, validated readings of a registered device out (or a reason why not).

The route (which format, which codec) comes from the topic: the site's own sensor topics
speak the native format, and `sources:` in the site file name the others. Then the registry
check (a device writes only under its own ids and kind), de-duplication by uplink, the device's
time checked (`gateway.ingest.clocks`: an implausible one gives way to the receive time), and
normalisation. What the database could not store is refused here, with the reason: a count
beyond line protocol's 64-bit integers, a bin reading without a value to store. No I/O but a
sampled log line, so the daemon, `luciole decode` and the tests share the same path.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pydantic import ValidationError

from controllers.settings import SiteConfig
from controllers.settings.site import Device
from gateway.codecs import CODECS
from gateway.codecs.base import Codec
from gateway.formats import FORMATS, Message
from gateway.formats.base import Decoded, DecodeError
from gateway.ingest.clocks import DeviceClocks
from gateway.ingest.readings import BinReading, Normaliser, PedestrianReading, Reading, Spooled
from gateway.wire.topics import Topics, topic_matches

ROUTE_MEMORY_TOPICS = 10_000
_INT64_MAX = 2**63 - 1  # line protocol's integers (gateway.store.lines)


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused: `reason` for counting, `detail` for the operator."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Route:
    """Messages on `subscription` (a filter, maybe `$share/...`) are in `format`."""

    subscription: str
    format: str
    codec: Codec | None

    @property
    def filter(self) -> str:
        """The topic filter without a shared-subscription prefix."""
        if self.subscription.startswith("$share/"):
            return self.subscription.split("/", 2)[2]
        return self.subscription


@dataclass(frozen=True)
class Accepted:
    """What a message yielded: readings to act on, and to store under their uplink keys."""

    device_id: str
    readings: list[Reading]
    spooled: list[Spooled]


@dataclass(frozen=True)
class Duplicate:
    """A message already accepted (redelivered, or sent twice)."""

    device_id: str


@dataclass(frozen=True)
class Elsewhere:
    """A registered device of another district: its daemon takes it, this one leaves it."""

    device_id: str


class RecentUplinks:
    """The last uplink keys of each device, to drop repeats (QoS 1 redelivery, retries)."""

    def __init__(self, window: int = 256) -> None:
        self._window = window
        self._seen: dict[str, dict[str, None]] = {}

    def is_repeat(self, device_id: str, key: str | None) -> bool:
        if key is None:
            return False
        recent = self._seen.setdefault(device_id, {})
        if key in recent:
            return True
        recent[key] = None
        if len(recent) > self._window:
            del recent[next(iter(recent))]
        return False


class Intake:
    """The site's routes, registry and the per-device state normalisation needs."""

    def __init__(
        self,
        site: SiteConfig,
        decode_only: bool = False,
        clocks: DeviceClocks | None = None,
        normaliser: Normaliser | None = None,
        foreign_devices: Mapping[str, Device] | None = None,
    ) -> None:
        self.topics = Topics(site.broker.topic_prefix, site.site.id)
        native = Route(self.topics.sensors, "native", None)
        self.routes = [native, *(_route(s.topic, s.format, s.codec) for s in site.sources)]
        self._devices = site.devices
        self._decode_only = decode_only  # `luciole decode` without a registry
        self._owner = {n.lower(): d for d, dev in site.devices.items() for n in dev.network_ids}
        self._foreign = dict(foreign_devices or {})  # other districts' (`run --district`)
        self._foreign_owner = {
            n.lower(): d for d, dev in self._foreign.items() for n in dev.network_ids
        }
        self._recent = RecentUplinks()
        self._route_of: dict[str, Route | None] = {}
        # Both passed in to outlive a reload's new Intake: a meter's last index must too, or
        # its first reading after a reload would be a new baseline (an hour of volume unknown).
        self.normaliser = normaliser or Normaliser()
        self.clocks = clocks or DeviceClocks()

    def route(self, topic: str) -> Route | None:
        """The first route whose filter matches `topic` (remembered: matching costs more than
        decoding a small payload, and a site's devices keep their topics)."""
        try:
            return self._route_of[topic]
        except KeyError:
            pass
        found = next((r for r in self.routes if topic_matches(r.filter, topic)), None)
        if len(self._route_of) >= ROUTE_MEMORY_TOPICS:
            self._route_of.clear()  # a flood of made-up topics must not grow it without end
        self._route_of[topic] = found
        return found

    def message(
        self, topic: str, payload: bytes, received_s: float, route: Route | None = None
    ) -> Accepted | Duplicate | Elsewhere | Rejection:
        """Decode, check and normalise one message."""
        route = route or self.route(topic)
        if route is None:
            return Rejection("no_route", f"no source in the site file matches topic {topic:.120}")
        try:
            decoded = FORMATS[route.format](
                Message(topic, payload, received_s, route.codec, self.topics)
            )
        except DecodeError as error:
            return Rejection(error.reason, error.detail)
        return self._accept(decoded, received_s)

    def _accept(
        self, decoded: list[Decoded], received_s: float
    ) -> Accepted | Duplicate | Elsewhere | Rejection:
        readings: list[Reading] = []
        spooled: list[Spooled] = []
        device_id, repeats = "", 0
        for record in decoded:
            found = self._registered(record)
            if isinstance(found, Rejection | Elsewhere):
                return found
            device_id, device = found
            if self._recent.is_repeat(device_id, record.dedup_key):
                repeats += 1
                continue
            new = self._readings(device_id, device, record, received_s)
            if isinstance(new, Rejection):
                return new
            readings += new
            spooled += [Spooled(r, record.dedup_key, i) for i, r in enumerate(new)]
        if decoded and repeats == len(decoded):
            return Duplicate(device_id)
        return Accepted(device_id, readings, spooled)

    def _readings(
        self, device_id: str, device: Device, record: Decoded, received_s: float
    ) -> list[Reading] | Rejection:
        """One record's readings at a plausible time, or why they cannot be stored."""
        ts_s = self.clocks.checked(device_id, record.ts_s, received_s)
        if ts_s != record.ts_s:
            record = replace(record, ts_s=ts_s)
        try:
            new = self.normaliser.readings(device_id, device, record, received_s)
        except (ValueError, ValidationError) as error:
            return Rejection("invalid", str(error).splitlines()[0])
        for reading in new:
            refused = _unstorable(reading)
            if refused is not None:
                return refused
        return new

    def _registered(self, record: Decoded) -> tuple[str, Device] | Elsewhere | Rejection:
        device_id = self._owner.get(record.network_id.lower(), record.network_id)
        device = self._devices.get(device_id)
        if device is None and self._foreign:
            foreign = self._foreign_owner.get(record.network_id.lower(), record.network_id)
            if foreign in self._foreign:
                return Elsewhere(foreign)
        if device is None and self._decode_only:
            return record.network_id, Device(kind=record.kind, segment="unregistered")
        if device is None:
            return Rejection(
                "unknown_device",
                f"{record.network_id!r} is not a registered device id or network id; "
                "add it under devices: in the site file",
            )
        if device.kind != record.kind:
            return Rejection(
                "wrong_kind",
                f"device {device_id!r} is registered as {device.kind}, not {record.kind}",
            )
        return device_id, device


def _unstorable(reading: Reading) -> Rejection | None:
    """Why the database could not store `reading` (None: it can). The models already refuse
    NaN and infinities; these are the rest of what line protocol cannot carry."""
    if type(reading) is PedestrianReading and reading.count > _INT64_MAX:
        return Rejection("invalid", f"count {reading.count} is beyond a 64-bit integer")
    if type(reading) is BinReading and not _has_value(reading):
        return Rejection(
            "no_readings", "a bin reading needs a fill, distance, temperature, tilt or alarm"
        )
    return None


def _has_value(reading: BinReading) -> bool:
    values = (reading.fill_ratio, reading.distance_mm, reading.temperature_c, reading.tilt)
    return bool(reading.alarms) or any(value is not None for value in values)


def _route(topic: str, format_name: str, codec_name: str | None) -> Route:
    """A source's route; names were checked with the site file (check_sources)."""
    return Route(topic, format_name, CODECS[codec_name] if codec_name else None)


def check_sources(site: SiteConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Unknown format or codec names in `sources:`, as (key path, message) pairs."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for index, source in enumerate(site.sources):
        if source.format not in FORMATS:
            known = ", ".join(FORMATS)
            found.append(
                (("sources", index, "format"), f"unknown format {source.format!r}; known: {known}")
            )
        if source.codec is not None and source.codec not in CODECS:
            known = ", ".join(CODECS)
            found.append(
                (("sources", index, "codec"), f"unknown codec {source.codec!r}; known: {known}")
            )
    return found
