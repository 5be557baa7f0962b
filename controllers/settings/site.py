"""The site file: where the site is, which broker, the lamp segments and the device registry."""

from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from controllers.settings.districts import District, district_problems
from controllers.settings.errors import did_you_mean
from controllers.settings.schedule import Weekday
from controllers.settings.types import (
    STRICT,
    Identifier,
    NonNegativeSeconds,
    PositiveSeconds,
    Ratio,
)

LightingClass = Literal["P1", "P2", "P3", "P4", "P5", "P6"]
DeviceKind = Literal["pedestrian", "bin", "water"]


class SiteInfo(BaseModel):
    """Identity and location; latitude and longitude drive the astronomical clock."""

    model_config = STRICT
    id: Identifier
    name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Paris"
            ) from None
        return value


class BrokerTls(BaseModel):
    """TLS towards the broker: the CA to trust, and a client certificate if the broker wants
    one. Paths are relative to the site file."""

    model_config = STRICT
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


class BrokerSettings(BaseModel):
    """The MQTT broker the daemon connects to (QoS 1, persistent session).

    The password is never in this file: it comes from the environment variable named by
    `password_env`, or from the file named by `password_file`.
    """

    model_config = STRICT
    url: str = Field(default="mqtt://127.0.0.1:1883", pattern=r"^mqtts?://[^/:]+(:\d+)?/?$")
    client_id: Identifier = "luciole-gateway"
    share_group: Identifier = Field(
        default="luciole", description="ingest workers' shared subscription: $share/{group}/…"
    )
    topic_prefix: Identifier = "luciole"
    keepalive_s: PositiveSeconds = 30
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry_s: PositiveSeconds = Field(
        default=7 * 86400, description="MQTT 5: how long the broker keeps our session"
    )
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    tls: BrokerTls | None = None

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rstrip("/").rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        rest = self.url.split("://", 1)[1].rstrip("/")
        default = 8883 if self.url.startswith("mqtts") else 1883
        return int(rest.rsplit(":", 1)[1]) if ":" in rest else default


class InfluxSettings(BaseModel):
    """Where readings go (InfluxDB v2 write API); the token comes from the environment
    variable named here, never from the file."""

    model_config = STRICT
    url: str = Field(pattern=r"^https?://")
    org: str = "luciole"
    bucket: str = "luciole"
    token_env: str = "LUCIOLE_INFLUX_TOKEN"
    batch_size: int = Field(default=5000, ge=1, le=100_000)


LatLon = tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]]


class Segment(BaseModel):
    """A run of lamps switched together: the unit the controller commands."""

    model_config = STRICT
    id: Identifier
    street: Identifier
    order: int = Field(ge=0, description="position along the street; neighbours follow order")
    length_m: float = Field(gt=0)
    lamps: int = Field(default=1, ge=1)
    rated_power_w: float = Field(gt=0, description="per lamp, at 100 %")
    standby_power_w: float = Field(default=0.5, ge=0, description="per lamp, driver on, light off")
    lighting_class: LightingClass = Field(
        default="P4", description="EN 13201 class the segment is rated for when busy"
    )
    lux_at_full_lx: float | None = Field(
        default=None,
        gt=0,
        description="average lux on the ground at 100 % (photometry); default: the rated "
        "class's average exactly",
    )
    start: LatLon | None = Field(default=None, description="[latitude, longitude] of one end")
    end: LatLon | None = Field(default=None, description="[latitude, longitude] of the other")

    @model_validator(mode="after")
    def _both_ends(self) -> Self:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        return self


class Source(BaseModel):
    """Where third-party uplinks arrive: an MQTT topic filter, its format and, for LoRaWAN
    devices whose network server forwards bytes, the byte codec of the device model."""

    model_config = STRICT
    topic: str = Field(min_length=1, pattern=r"^[^#+]*(\+[^#+]*)*#?$")
    format: str
    codec: str | None = None


class Device(BaseModel):
    """A registered sensor: only registered devices may write, and only for their segment.

    `network_ids` are the ids the device uses on the network (a devEUI, a SenML name, a
    wireless M-Bus id); a native device writes under its own id.
    """

    model_config = STRICT
    kind: DeviceKind
    segment: Identifier
    network_ids: list[str] = []
    latitude: float | None = Field(default=None, ge=-90, le=90, description="where it stands")
    longitude: float | None = Field(default=None, ge=-180, le=180)
    empty_distance_mm: float | None = Field(default=None, gt=0)
    full_distance_mm: float | None = Field(default=None, ge=0)
    full_at: Ratio | None = Field(default=None, description="bin: full from (default: policy)")
    empty_at: Ratio | None = Field(default=None, description="bin: empty up to (default: policy)")
    collection_days: list[Weekday] = Field(
        default=[], description="bin: the weekdays the truck is scheduled to pass"
    )
    q3_m3h: float | None = Field(
        default=None, gt=0, description="water: nominal flow Q3 (default: policy, 2.5 m³/h)"
    )
    resolution_m3: float | None = Field(
        default=None, gt=0, description="water: the index's resolution (default: policy)"
    )
    continuous_flow_expected: bool = Field(
        default=False, description="water: legitimate continuous flow, exempt from leak alerts"
    )

    @model_validator(mode="after")
    def _bin_geometry(self) -> Self:
        empty, full = self.empty_distance_mm, self.full_distance_mm
        if empty is not None and full is not None and full >= empty:
            raise ValueError("full_distance_mm must be smaller than empty_distance_mm")
        return self

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> Self:
        for kind, keys in _KIND_KEYS.items():
            given = sorted(key for key in keys if key in self.model_fields_set)
            if given and self.kind != kind:
                raise ValueError(f"{', '.join(given)}: only for a {kind} device, not {self.kind}")
        return self


_KIND_KEYS = {
    "bin": ("empty_distance_mm", "full_distance_mm", "full_at", "empty_at", "collection_days"),
    "water": ("q3_m3h", "resolution_m3", "continuous_flow_expected"),
}


class WaterTariff(BaseModel):
    """What a cubic metre of water costs at the site, for the cost of a leak."""

    model_config = STRICT
    price_per_m3: float = Field(default=0.0, ge=0, description="0: costs are not shown")
    currency: str = Field(default="EUR", min_length=1, max_length=8)


class OverrideSender(BaseModel):
    """An operator or a CMS that may send overrides, and where its signing key is: in the
    environment variable named by `key_env`, or in the file named by `key_file` (relative to
    the site file). Never the key itself."""

    model_config = STRICT
    key_env: str | None = Field(default=None, min_length=1)
    key_file: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.key_env is None) == (self.key_file is None):
            raise ValueError("give the key's key_env or its key_file, one of them")
        return self


class OverrideAuthority(BaseModel):
    """Who may override. With senders named, each override must be signed by one of them
    (README, "Who may override"); with none, the broker's ACL alone decides who may publish
    on `override/#`, and the daemon says so at start."""

    model_config = STRICT
    senders: dict[Identifier, OverrideSender] = {}
    max_clock_skew_s: PositiveSeconds = Field(
        default=300, description="a signed override's ts may be this far from the daemon's clock"
    )


class ConsoleSettings(BaseModel):
    """The operator's page the daemon serves (README, "The operator's console"). Reading it
    on loopback is open; every action needs the token, read from the environment variable
    named by `token_env` or the file named by `token_file` (relative to the site file),
    never from this file."""

    model_config = STRICT
    port: int = Field(ge=1, le=65535)
    bind: str = Field(default="127.0.0.1", description="the address to listen on")
    token_env: str | None = Field(default=None, min_length=1)
    token_file: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_token(self) -> Self:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("give token_env or token_file, not both")
        return self


class SiteConfig(BaseModel):
    """One site: the whole file `config/site.yaml`."""

    model_config = STRICT
    site: SiteInfo
    broker: BrokerSettings = BrokerSettings()
    policy: str = Field(default="policy.yaml", description="policy file, relative to this file")
    tick_s: PositiveSeconds = 1.0
    spool_path: str = Field(default="spool/luciole.db", description="relative to this file")
    deadletter_path: str = Field(
        default="spool/deadletter.jsonl", description="refused messages; relative to this file"
    )
    deadletter_topic: bool = Field(
        default=True, description="also publish every refused message on the dead-letter topic"
    )
    segments: list[Segment] = Field(min_length=1)
    sources: list[Source] = []
    influx: InfluxSettings | None = None
    spool_quota_mb: float = Field(default=1024, gt=0, description="disk the spool may use")
    retention_s: NonNegativeSeconds | None = Field(
        default=30 * 86400, description="how long readings already in the database stay local"
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="/metrics and /healthz on 127.0.0.1"
    )
    devices: dict[Identifier, Device] = {}
    overrides: OverrideAuthority = OverrideAuthority()
    water: WaterTariff = WaterTariff()
    console: ConsoleSettings | None = None
    junctions: dict[Identifier, list[Identifier]] = Field(
        default={},
        description="segments that meet at a crossing: a walker on one may go on to any other",
    )
    districts: dict[Identifier, District] = Field(
        default={}, description="the site split between daemons: `luciole run --district NAME`"
    )

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references a field validator cannot see: (key path, message) pairs."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        seen_ids: set[str] = set()
        seen_places: dict[tuple[str, int], str] = {}
        for index, segment in enumerate(self.segments):
            if segment.id in seen_ids:
                found.append((("segments", index, "id"), f"segment id {segment.id!r} is repeated"))
            seen_ids.add(segment.id)
            place = (segment.street, segment.order)
            if place in seen_places:
                found.append(
                    (
                        ("segments", index, "order"),
                        f"{segment.street} #{segment.order} is already segment "
                        f"{seen_places[place]!r}; give each segment its own order",
                    )
                )
            seen_places.setdefault(place, segment.id)
        found += self._network_id_clashes()
        for device_id, device in self.devices.items():
            if device.segment not in seen_ids:
                found.append(
                    (
                        ("devices", device_id, "segment"),
                        f"unknown segment {device.segment!r}; add it under segments: or fix it",
                    )
                )
        found += self._junction_problems(seen_ids)
        return found + district_problems(self)

    def _junction_problems(self, known: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
        """A junction joins at least two known segments, each once."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for name, members in self.junctions.items():
            if len(set(members)) < 2:
                found.append((("junctions", name), "a junction joins at least two segments"))
            for index, member in enumerate(members):
                if member not in known:
                    message = f"unknown segment {member!r}{did_you_mean(member, known)}"
                    found.append((("junctions", name, index), message))
                elif members.index(member) != index:
                    found.append((("junctions", name, index), f"{member!r} is listed twice"))
        return found

    def _network_id_clashes(self) -> list[tuple[tuple[str | int, ...], str]]:
        """A network id may belong to one device only: a device cannot write for another."""
        owner: dict[str, str] = {}
        found: list[tuple[tuple[str | int, ...], str]] = []
        for device_id, device in self.devices.items():
            for index, network_id in enumerate(device.network_ids):
                key = network_id.lower()
                if key in owner:
                    message = f"{network_id!r} already belongs to device {owner[key]!r}"
                    found.append((("devices", device_id, "network_ids", index), message))
                owner.setdefault(key, device_id)
        return found
