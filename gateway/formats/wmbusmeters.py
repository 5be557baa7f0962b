"""wmbusmeters JSON (one flat object per telegram, units in the key names) → water readings.

Used: `id` (the meter's wireless M-Bus id: the network id), `media`, `timestamp` (RFC 3339;
wmbusmeters' own tests use `1111-11-11T11:11:11Z`, which is valid), `total_m3` (the index; a
telegram without it, or with `null`, has no reading), `flow_m3h` or `volume_flow_m3h` (the
current flow; `max_flow_m3h` is not), `backflow_m3`, and the status words, which
`gateway.formats.wmbus_alarms` turns into alarms.

A negative flow is water running backwards through the meter now (hydrus prints -0.002 m³/h):
the reading keeps its index and the flow's sign. It raises no alarm by itself: a few litres an
hour either way is what an ultrasonic meter reads at rest, and the meter's own words (REVERSE,
BACKFLOW) say when backflow is an alarm.

Other keys (`target_m3`, monthly histories, `leak_date`, `contents`...) are not readings.
There is no dedup key: the format has no sequence number, and a repeated meter index is
harmless downstream (a zero delta).
"""

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import json_object, make_decoded, opt_str, rfc3339_s
from gateway.formats.message import Message
from gateway.formats.wmbus_alarms import telegram_alarms

_FLOW_KEYS = ("flow_m3h", "volume_flow_m3h")


def decode(message: Message) -> list[Decoded]:
    """The reading of one wmbusmeters water-meter telegram."""
    telegram = json_object(message.payload)
    meter_id = opt_str(telegram, "id", "id")
    if not meter_id:
        raise DecodeError("invalid", "the telegram has no meter id")
    media = opt_str(telegram, "media", "media")
    if media is not None and "water" not in media.lower():
        raise DecodeError(
            "unsupported_media", f"meter {meter_id} measures {media!r:.40}, not water"
        )
    if telegram.get("total_m3") is None:
        raise DecodeError("no_readings", f"telegram of meter {meter_id} has no total_m3")
    stamp = telegram.get("timestamp")
    ts_s = None if stamp is None else rfc3339_s(stamp, "timestamp")
    return [
        make_decoded(
            meter_id,
            "water",
            ts_s,
            _values(telegram),
            dedup_key=None,
            source="wmbusmeters",
            reason="invalid",
            other_alarms=True,
        )
    ]


def _values(telegram: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {"total_m3": telegram["total_m3"]}
    flow = next((telegram[key] for key in _FLOW_KEYS if telegram.get(key) is not None), None)
    if flow is not None:
        values["flow_m3h"] = flow
    if telegram.get("backflow_m3") is not None:
        values["backflow_m3"] = telegram["backflow_m3"]
    alarms = telegram_alarms(telegram)
    if alarms is not None:
        values["alarms"] = alarms
    return values
