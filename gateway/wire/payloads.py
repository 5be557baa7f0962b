"""Native wire payloads (DESIGN.md, "Wire contracts") as pydantic models.

Sensors send small JSON objects with units in the names; lamps receive `LampCommand` and answer
with `LampState`; operators send `OverrideMessage`. The simulator builds its payloads from these
same models, so it cannot speak a dialect the gateway does not understand.
"""

import socket
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from gateway.wire.times import rfc3339_s

# Native payloads are ours: an unknown key is a sender's typo and is reported, not ignored.
# Infinity and NaN are valid JSON to Python but never a valid measurement.
_WIRE = ConfigDict(extra="forbid", allow_inf_nan=False)
# What sensors send is stored, so it is taken as sent: a number must be a JSON number (pydantic
# would otherwise read "90015" and true as numbers, and "true" or 1 as a boolean). A whole
# number may come as 5.0 (`gateway.formats.native` makes it 5 before these models see it).
_SENSOR = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

# Every Luciole MQTT client sets TCP_NODELAY: otherwise a small packet can wait ~40 ms for the
# TCP ack of the previous one (Nagle's algorithm meets delayed acks), and presence is late.
LOW_LATENCY_SOCKET_OPTIONS = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

Kind = Literal["pedestrian", "bin", "water"]
"""The sensor kinds of the wire contract, as they appear in `sensor/{kind}/{device_id}`."""

Direction = Literal["forward", "backward"]
"""Along the street's increasing `order` (forward) or against it (backward)."""

_EPOCH_MS_THRESHOLD = 1e11  # epoch seconds pass this in the year 5138; epoch ms in 1973


def _epoch_s(value: object) -> object:
    """RFC 3339 text or a JSON number of epoch seconds (or milliseconds) → epoch seconds.

    Nothing else is a time: not `"20261201"` or a date alone (ISO 8601 but not RFC 3339), not a
    time without an offset, not a boolean. How plausible the time is, is decided at intake, for
    every format alike (`gateway.ingest.clocks`)."""
    if isinstance(value, str):
        return rfc3339_s(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected an RFC 3339 time or epoch seconds, got {value!r:.40}")
    return value / 1000.0 if value > _EPOCH_MS_THRESHOLD else value


EpochSeconds = Annotated[float, BeforeValidator(_epoch_s)]


class PedestrianPayload(BaseModel):
    """Walkers counted in the last `period_s` (0 period: one detection event)."""

    model_config = _SENSOR
    ts: EpochSeconds | None = None
    seq: int | None = Field(default=None, ge=0)
    count: int = Field(ge=0, le=100_000)
    period_s: float = Field(default=0, ge=0)
    direction: Direction | None = None


class BinPayload(BaseModel):
    """Fill of a waste bin, as a distance to the surface or as a ratio."""

    model_config = _SENSOR
    ts: EpochSeconds | None = None
    seq: int | None = Field(default=None, ge=0)
    distance_mm: float | None = Field(default=None, ge=0)
    fill_ratio: float | None = Field(default=None, ge=0, le=1)
    temperature_c: float | None = Field(default=None, ge=-60, le=200)
    tilt: bool | None = None


class WaterPayload(BaseModel):
    """A water meter's index, with optional flow and alarms."""

    model_config = _SENSOR
    ts: EpochSeconds | None = None
    seq: int | None = Field(default=None, ge=0)
    total_m3: float = Field(ge=0)
    flow_m3h: float | None = Field(default=None, ge=0)
    alarms: list[str] = Field(default_factory=list)  # no deep copy of a default per message


SensorPayload = PedestrianPayload | BinPayload | WaterPayload
PAYLOAD_BY_KIND: dict[str, type[SensorPayload]] = {
    "pedestrian": PedestrianPayload,
    "bin": BinPayload,
    "water": WaterPayload,
}

Reason = Literal["schedule", "traffic", "presence", "override", "failsafe", "occupancy"]


class LampCommand(BaseModel):
    """`lamp/{segment}/set`: fade to `level` over `ramp_s` seconds. `arc_power` (DALI, IEC
    62386 logarithmic curve, 0 off) is only there when the policy asks for it."""

    model_config = _WIRE
    level: float = Field(ge=0, le=1)
    ramp_s: float = Field(ge=0)
    reason: Reason
    seq: int = Field(ge=0)
    ts: float
    arc_power: int | None = Field(default=None, ge=0, le=254)

    @model_serializer(mode="wrap")
    def _without_absent_arc_power(self, handler: SerializerFunctionWrapHandler) -> object:
        data = handler(self)
        if isinstance(data, dict) and data.get("arc_power") is None:
            data.pop("arc_power", None)
        return data


class LampState(BaseModel):
    """`lamp/{segment}/state`: what the lamp actually does."""

    model_config = _WIRE
    level: float = Field(ge=0, le=1)
    power_w: float = Field(ge=0)
    status: Literal["ok", "failed", "fallback"] = "ok"
    ts: float


class OverrideMessage(BaseModel):
    """`override/{target}`: an operator's level for a while, or `clear`. A signed one also
    names its `sender`, a unique message `id`, its time `ts` (epoch seconds) and `sig`, the
    HMAC-SHA256 of the rest (`gateway.wire.signing`)."""

    model_config = _WIRE
    level: float | None = Field(default=None, ge=0, le=1)
    duration_s: float | None = Field(default=None, gt=0)
    clear: bool = False
    sender: str | None = Field(default=None, min_length=1, max_length=64)
    id: str | None = Field(default=None, min_length=1, max_length=128)
    ts: float | None = Field(default=None, gt=0)
    sig: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
