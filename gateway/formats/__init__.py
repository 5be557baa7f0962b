"""Wire-format decoders: one module per format, and one explicit table of them.

`FORMATS[name](message)` turns one MQTT message into `Decoded` records or raises `DecodeError`
with a short reason. Adding a format means adding a module and a line here (and golden cases
under `tests/formats/<name>/`), and its reader in `explain` and shape in `shape`.

Beside the formats: `base` (Decoded, the value and alarm vocabulary), `common` (what every
decoder shares), `lorawan` (an uplink through its device's codec, for ChirpStack and TTS),
`wmbus_alarms` (wmbusmeters' status words as alarms), `explain` (what a message said, when it
makes no reading) and `shape` (which format a payload is, for `luciole decode`).
"""

from gateway.formats import chirpstack, native, senml, tts, wmbusmeters
from gateway.formats.message import Decoder, Message

FORMATS: dict[str, Decoder] = {
    "native": native.decode,
    "chirpstack": chirpstack.decode,
    "tts": tts.decode,
    "senml": senml.decode,
    "wmbusmeters": wmbusmeters.decode,
}

__all__ = ["FORMATS", "Decoder", "Message"]
