"""What a message says, whether or not it makes readings: for an operator who asks "what did
my sensor send?" when `luciole decode` shows no reading.

`said(format, message)` gives the message in its sender's own names: a JSON payload as it is
(native, wmbusmeters), a SenML pack as its resolved records (names and times after the base
fields), a LoRaWAN uplink as its network server's decoded object or else as its device's codec
describes the bytes. It never raises: what cannot be read is said, under `unreadable`.
"""

from collections.abc import Callable, Mapping

from gateway.codecs.base import Codec
from gateway.formats import chirpstack, senml, tts
from gateway.formats.base import DecodeError
from gateway.formats.common import parse_json
from gateway.formats.lorawan import Uplink
from gateway.formats.message import Message

Said = dict[str, object]


def said(format_name: str, message: Message) -> Said:
    """What the message holds, in its format's or its device's names."""
    reader = _READERS.get(format_name)
    if reader is None:
        return {"unreadable": f"unknown format {format_name!r}"}
    try:
        return reader(message)
    except DecodeError as error:
        return {"unreadable": f"{error.reason}: {error.detail}"}


def _json(message: Message) -> Said:
    value = parse_json(message.payload)
    return value if isinstance(value, dict) else {"payload": value}


def _senml(message: Message) -> Said:
    return {"records": senml.resolved(message.payload, message.received_s)}


def _lorawan(uplink_of: Callable[[Message], Uplink]) -> Callable[[Message], Said]:
    def read(message: Message) -> Said:
        uplink = uplink_of(message)
        out: Said = {"dev_eui": uplink.eui, "f_port": uplink.fport}
        if uplink.obj is not None:
            return out | {"object": dict(uplink.obj)}
        out["bytes"] = (uplink.data or b"").hex()
        if message.codec is None:
            return out | {"unreadable": "no codec named: give one to read the bytes"}
        return out | {"fields": _described(message.codec, uplink)}

    return read


def _described(codec: Codec, uplink: Uplink) -> Said:
    try:
        return codec.describe(uplink.data or b"", uplink.fport)
    except Exception as error:  # a codec bug must not hide the rest of the answer
        return {"unreadable": f"codec {codec.name} failed: {type(error).__name__}: {error}"}


_READERS: Mapping[str, Callable[[Message], Said]] = {
    "native": _json,
    "wmbusmeters": _json,
    "senml": _senml,
    "chirpstack": _lorawan(chirpstack.uplink),
    "tts": _lorawan(tts.uplink),
}
