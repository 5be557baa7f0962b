"""Vendor byte codecs: for devices whose network server forwards bytes, not a decoded object.

A codec knows one device model. `decode_bytes` reads the uplink's raw bytes (with its LoRaWAN
FPort); `from_object` reads the object a network server's payload formatter made from the same
bytes with the vendor's official codec (field names as in the vendor's documentation). Both
return `CodecReading`s and raise only `CodecError`. `describe` says what the bytes hold, in the
vendor's names, whether or not they make a reading: what an operator asks when a device's
message yields none ("what did my sensor send?").
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.wire.payloads import Kind


@dataclass(frozen=True)
class CodecReading:
    """Values of one measurement; `age_s` > 0 for back-dated readings (seconds before the
    uplink's time), as a meter that sends its last hours in one frame. `ts_s` is set instead
    when the device stamped the measurement with its own clock (a logged record it resends)."""

    kind: Kind
    values: Mapping[str, object]
    age_s: float = 0.0
    ts_s: float | None = None


class CodecError(Exception):
    """Bytes or an object this codec cannot read; `detail` says what was wrong."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Codec(Protocol):
    """One device model's payload format."""

    name: str
    kind: Kind

    def decode_bytes(self, data: bytes, fport: int | None) -> list[CodecReading]: ...

    def from_object(self, obj: Mapping[str, object]) -> list[CodecReading]: ...

    def describe(self, data: bytes, fport: int | None) -> dict[str, object]: ...
