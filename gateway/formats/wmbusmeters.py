"""wmbusmeters JSON (one flat object per telegram, units in the key names) → water readings.

Used: `id` (the meter's wireless M-Bus id: the network id), `media`, `timestamp` (RFC 3339;
wmbusmeters' own tests use `1111-11-11T11:11:11Z`, which is valid), `total_m3` (the index; a
telegram without it, or with `null`, has no reading), `flow_m3h` or `volume_flow_m3h` (the
current flow; `max_flow_m3h` is not), `backflow_m3`, and the flags in `status` and the
deprecated `current_status` (space-separated words, or commas).

Flags map onto our alarm vocabulary through `_ALARM_BY_FLAG`. `OK`, empty text and flags we do
not know (the generic `ALARM`, `NO_CONSUMPTION`, a driver's new words) raise no alarm and do not
fail the decode. `alarms` is present (maybe empty) when the telegram has a status field, absent
when it has none: "the meter says all is well" is not "the meter says nothing".
Other keys (`target_m3`, monthly histories, `leak_date`, `contents`...) are not readings.
There is no dedup key: the format has no sequence number, and a repeated meter index is
harmless downstream (a zero delta).
"""

import re

from gateway.formats.base import Decoded, DecodeError
from gateway.formats.common import json_object, make_decoded, opt_str, rfc3339_s
from gateway.formats.message import Message

_FLAG_SEPARATORS = re.compile(r"[\s,]+")
# wmbusmeters' words (kamwater, kadenwater, hydrodigit and the OMS status byte) → our alarms.
_ALARM_BY_FLAG = {
    "LEAK": "leak",
    "LEAKING": "leak",
    "LEAKAGE": "leak",
    "LEAK_FLOW_LOW": "leak",
    "LEAK_FLOW_HIGH": "leak",
    "BURST": "burst",
    "BURSTING": "burst",
    "REVERSE": "backflow",
    "REVERSED": "backflow",
    "BACKFLOW": "backflow",
    "DRY": "dry",
    "TAMPER": "tamper",
    "MANIPULATION": "tamper",
    "LOW_BATTERY": "low_battery",
    "BATTERY_LOW": "low_battery",
    "POWER_LOW": "low_battery",
    "PERMANENT_ERROR": "meter_error",
    "FROST": "frost",
    "LOW_AMBIENT_TEMPERATURE": "frost",
    "LOW_ABIENT_TEMPERATURE": "frost",  # sic: kamwater's spelling
    "FLOW_ABOVE_Q4": "overflow",  # above the meter's overload flow
}
_STATUS_KEYS = ("status", "current_status")
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
        )
    ]


def _values(telegram: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {"total_m3": telegram["total_m3"]}
    flow = next((telegram[key] for key in _FLOW_KEYS if telegram.get(key) is not None), None)
    if flow is not None:
        values["flow_m3h"] = flow
    if telegram.get("backflow_m3") is not None:
        values["backflow_m3"] = telegram["backflow_m3"]
    alarms = _alarms(telegram)
    if alarms is not None:
        values["alarms"] = alarms
    return values


def _alarms(telegram: dict[str, object]) -> list[str] | None:
    """Our alarms from the status flags; None when the telegram has no status field."""
    texts = [opt_str(telegram, key, key) for key in _STATUS_KEYS]
    present = [text for text in texts if text is not None]
    if not present:
        return None
    flags = {flag.upper() for text in present for flag in _FLAG_SEPARATORS.split(text) if flag}
    return sorted({_ALARM_BY_FLAG[flag] for flag in flags if flag in _ALARM_BY_FLAG})
