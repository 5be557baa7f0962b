"""The Things Stack v3 uplink messages (`v3/{app}@{tenant}/devices/{dev}/up`) → readings,
through the device's codec.

Fields used: `end_device_ids.dev_eui`, `received_at` (else `uplink_message.received_at`),
`uplink_message.f_port`, `f_cnt`, `frm_payload` (base64) and `decoded_payload` (the
application's payload formatter output, preferred when present). Proto3 JSON leaves out zero
fields, so a missing `f_cnt` or `f_port` is not an error; without `f_cnt` there is no dedup
key. Any other message (join accept, downlink events, service data) has no `uplink_message`.
"""

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import (
    b64_bytes,
    eui_hex,
    json_object,
    opt_obj,
    opt_uint,
    rfc3339_s,
)
from gateway.formats.lorawan import Uplink, uplink_decoded
from gateway.formats.message import Message

_ENVELOPE = frozenset({"end_device_ids", "correlation_ids", "received_at"})
_MAX_FCNT = 2**32 - 1
_MAX_FPORT = 255


def decode(message: Message) -> list[Decoded]:
    """The readings of one TTS v3 uplink message."""
    return uplink_decoded(uplink(message), message, "tts")


def uplink(message: Message) -> Uplink:
    """The checked uplink of one TTS v3 message, before its codec reads it."""
    envelope = json_object(message.payload)
    up = opt_obj(envelope, "uplink_message", "uplink_message")
    if up is None:
        what = ", ".join(sorted(set(envelope) - _ENVELOPE)[:4]) or "nothing"
        raise DecodeError("not_uplink", f"not a TTS uplink message (it carries {what})")
    ids = opt_obj(envelope, "end_device_ids", "end_device_ids") or {}
    eui = eui_hex(ids.get("dev_eui"), "end_device_ids.dev_eui")
    fcnt = opt_uint(up, "f_cnt", "uplink_message.f_cnt", _MAX_FCNT)
    data = up.get("frm_payload")
    return Uplink(
        eui=eui,
        ts_s=_time_s(envelope, up),
        fport=opt_uint(up, "f_port", "uplink_message.f_port", _MAX_FPORT),
        dedup_key=None if fcnt is None else f"{eui}:{fcnt}",
        data=None if data is None else b64_bytes(data, "uplink_message.frm_payload"),
        obj=opt_obj(up, "decoded_payload", "uplink_message.decoded_payload"),
    )


def _time_s(envelope: dict[str, object], up: dict[str, object]) -> float | None:
    """When the stack received the uplink: the message's time, else the network server's."""
    if envelope.get("received_at") is not None:
        return rfc3339_s(envelope["received_at"], "received_at")
    if up.get("received_at") is not None:
        return rfc3339_s(up["received_at"], "uplink_message.received_at")
    return None
