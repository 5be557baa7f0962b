"""One sensor message in, validated readings of a registered device out (or a reason why not).

Decoding, the registry check, de-duplication and normalisation in one place, with no I/O, so
the daemon, `luciole decode` and the tests share the same path.
"""

from dataclasses import dataclass

from pydantic import ValidationError

from controllers.settings import SiteConfig
from gateway.formats.base import Decoded
from gateway.ingest import Reading as NativeMessage
from gateway.ingest import RecentSequences, Rejection, decode_native
from gateway.readings import Normaliser, Reading
from gateway.spool import Spooled
from gateway.topics import Topics


@dataclass(frozen=True)
class Accepted:
    """What a message yielded: readings to act on and to store (none for a baseline total)."""

    device_id: str
    readings: list[Reading]
    uplink: str | None

    @property
    def spooled(self) -> list[Spooled]:
        return [Spooled(r, self.uplink, i) for i, r in enumerate(self.readings)]


@dataclass(frozen=True)
class Duplicate:
    """A message already accepted (redelivered, or sent twice)."""

    device_id: str
    uplink: str


class Intake:
    """The site's registry and the per-device state that normalisation needs."""

    def __init__(self, site: SiteConfig) -> None:
        self.topics = Topics(site.broker.topic_prefix, site.site.id)
        self._devices = site.devices
        self._recent = RecentSequences()
        self._normaliser = Normaliser()

    def message(
        self, topic: str, payload: bytes, received_s: float
    ) -> Accepted | Duplicate | Rejection:
        """Decode, check and normalise one native sensor message."""
        native = decode_native(self.topics, self._devices, topic, payload, received_s)
        if isinstance(native, Rejection):
            return native
        seq = native.payload.seq
        uplink = f"{native.device_id}:{seq}" if seq is not None else None
        if uplink is not None and self._recent.is_repeat(native.device_id, seq):
            return Duplicate(native.device_id, uplink)
        device = self._devices[native.device_id]
        try:
            readings = self._normaliser.readings(
                native.device_id, device, _decoded(native), received_s
            )
        except (ValueError, ValidationError) as error:
            return Rejection("invalid", str(error).splitlines()[0])
        return Accepted(native.device_id, readings, uplink)


def _decoded(native: NativeMessage) -> Decoded:
    values = native.payload.model_dump(exclude={"ts", "seq"}, exclude_none=True)
    return Decoded(native.device_id, native.kind, native.payload.ts, values)  # type: ignore[arg-type]
