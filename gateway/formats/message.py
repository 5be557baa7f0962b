"""What a decoder is given (`Message`) and what a decoder is (`Decoder`).

One MQTT message in, a list of `Decoded` out (or a `DecodeError`). Everything a decoder needs
beyond the bytes comes with the message: when it arrived (SenML's "now", the fallback time),
the vendor codec configured for the sender (LoRaWAN bytes), and the site's topic layout
(native payloads are addressed by their topic).
"""

# Postponed annotations: `gateway.codecs.base` imports `gateway.formats.base`, so importing it
# here at run time would make a cycle whenever a codec module is imported first.
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.wire.topics import Topics

if TYPE_CHECKING:
    from gateway.codecs.base import Codec
    from gateway.formats.base import Decoded


@dataclass(frozen=True)
class Message:
    """One received MQTT message and the context to decode it."""

    topic: str
    payload: bytes
    received_s: float
    codec: Codec | None = None
    topics: Topics | None = None


class Decoder(Protocol):
    """One wire format: a message in, its measurements out; raises only `DecodeError`."""

    def __call__(self, message: Message, /) -> list[Decoded]: ...
