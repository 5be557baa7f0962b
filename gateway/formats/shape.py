"""Which wire format a payload is, from its shape: for `luciole decode` without `--format`.

The daemon never guesses (each source's format is in the site file), but an operator with a
payload in hand often cannot tell its envelope. The shapes, tried in this order:
- SenML: a JSON array (a pack of records, RFC 8428).
- The Things Stack v3: an object with `end_device_ids` or `uplink_message`.
- ChirpStack v4: `deviceInfo`; v3: `devEUI`, `applicationID` or `objectJSON`.
- wmbusmeters: `"_": "telegram"`, or `meter` and `id` together.
- native: an object whose keys are all value names of our own payloads (`count`, `total_m3`..).
Anything else, including a payload that is not JSON, has no shape: the caller asks for
`--format`. A guess only picks the decoder: the decoder still checks everything.
"""

from dataclasses import dataclass

from gateway.formats.base import DecodeError
from gateway.formats.common import parse_json
from gateway.wire.payloads import PAYLOAD_BY_KIND

_NATIVE_KEYS = frozenset(name for model in PAYLOAD_BY_KIND.values() for name in model.model_fields)


@dataclass(frozen=True)
class Guess:
    """A format picked by shape, and the feature that picked it (for the operator)."""

    format: str
    why: str


def guess_format(payload: bytes) -> Guess | None:
    """The format whose shape the payload has, or None."""
    try:
        value = parse_json(payload)
    except DecodeError:
        return None
    if isinstance(value, list):
        return Guess("senml", "a JSON array, as a SenML pack is")
    if not isinstance(value, dict) or not value:
        return None
    return _envelope(value) or _flat(value)


def _envelope(obj: dict[str, object]) -> Guess | None:
    for key in ("end_device_ids", "uplink_message"):
        if key in obj:
            return Guess("tts", f"a The Things Stack v3 message ({key})")
    if "deviceInfo" in obj:
        return Guess("chirpstack", "a ChirpStack v4 event (deviceInfo)")
    for key in ("devEUI", "applicationID", "objectJSON"):
        if key in obj:
            return Guess("chirpstack", f"a ChirpStack v3 event ({key})")
    return None


def _flat(obj: dict[str, object]) -> Guess | None:
    if obj.get("_") == "telegram":
        return Guess("wmbusmeters", 'a wmbusmeters telegram ("_": "telegram")')
    if "meter" in obj and "id" in obj:
        return Guess("wmbusmeters", "a wmbusmeters telegram (meter and id)")
    if obj.keys() <= _NATIVE_KEYS:
        return Guess("native", f"Luciole's own value names ({', '.join(sorted(obj)[:4])})")
    return None
