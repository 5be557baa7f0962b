"""wmbusmeters' status words → Luciole's water alarms, from what its water drivers print.

Where the words are (all text, words split on spaces or commas, case ignored):
- `status`: the driver's error flags joined with the telegram's OMS status byte (POWER_LOW,
  PERMANENT_ERROR, TEMPORARY_ERROR, ALARM); nearly every driver prints it.
- `current_status` and `error_flags`: deprecated copies, read only when `status` is absent
  (aventieswm's `error_flags` even says SABOTAGE when no bit is set).
- `current_alarms`: the izar driver's list (`meter_blocked,underflow`, `no_alarm`).
- `fraud_type`: hydrodigit's (MAGNETIC_FRAUD_ATTEMPT, MODULE_REMOVED, NO_TYPE_INFO).
`previous_alarms` (izar) and `historic_status` (apatorna1) say what happened before, not now.

A word is, in this order:
- past: `P_` (aptmbusna's "has been detected"), `PREV_` (izarv2), `_THIS_MONTH`, `_PREV_MONTH`,
  `_LAST_MONTH` (ultrimisv2). No alarm: the meter's current word says whether it still holds,
  and an alarm raised from history would never clear;
- an alarm of our vocabulary (`_ALARM_BY_WORD`);
- a state that is not an alarm (`_NOT_ALARMS`: OK, NO_FLOW, MINIMUM_FLOW, HIGH_TEMPERATURE...);
- a bit the driver cannot name (ERROR_FLAGS_800, STATUS_1BBF80, UNKNOWN_E0,
  UNKNOWN_MFCT_STATUS_2): meter_error, as the meter set an error or status bit nobody named;
- a generic marker (ALARM, GENERAL_ALARM): nothing beside a named alarm, else `other:ALARM`;
- anything else: `other:<WORD>`, kept rather than dropped, so that a driver's new word reaches
  the operator (and the next version of this table).
"""

import re
from collections.abc import Mapping

from gateway.formats.base import OTHER_ALARM
from gateway.formats.common import opt_str

# (field, read only when `status` is absent)
_FIELDS = (
    ("status", False),
    ("current_status", True),
    ("error_flags", True),
    ("current_alarms", False),
    ("fraud_type", False),
)
_SEPARATORS = re.compile(r"[\s,]+")
_PAST = re.compile(r"(P_|PREV_).+|.+_(THIS|PREV|LAST)_MONTH")
_UNNAMED_BITS = re.compile(
    r"(ERROR_FLAGS|STATUS_FLAGS|STATUS|UNKNOWN|UNKNOWN_MFCT_STATUS)_[0-9A-F]+"
)
_GENERIC = frozenset({"ALARM", "GENERAL_ALARM"})

_WORDS_BY_ALARM: Mapping[str, tuple[str, ...]] = {
    "leak": (
        "LEAK",
        "LEAKAGE",
        "LEAKING",
        "LEAK_FLOW_LOW",
        "LEAK_FLOW_HIGH",
        "LEAKAGE_OR_NO_USAGE",
    ),
    "burst": ("BURST", "BURSTING"),
    "backflow": ("REVERSE", "REVERSED", "REVERSE_FLOW", "BACKFLOW", "BACK_FLOW"),
    "dry": ("DRY",),
    "tamper": (
        *("TAMPER", "MANIPULATION", "SABOTAGE", "MAGNETIC_FIELD", "STRONG_LIGHT"),
        *("SENSOR_FRAUD", "MECHANICAL_FRAUD", "MAGNETIC_FRAUD_ATTEMPT", "SENSOR_FRAUD_ATTEMPT"),
        "MODULE_REMOVED",
    ),
    "low_battery": ("LOW_BATTERY", "BATTERY_LOW", "POWER_LOW", "BATTERY", "BATTERY_VOLTAGE_ERROR"),
    "meter_error": (
        *("PERMANENT_ERROR", "TEMPORARY_ERROR", "ERROR", "METER_BLOCKED", "SW_ERROR"),
        *("CRC_ERROR", "SENSOR_ERROR", "MEASUREMENT_ERROR", "MEASUREMENT", "HF", "CS"),
        *("PROCESSOR_RESET", "DETECTOR_ERROR", "CLOCK_HAND_ERROR", "MBUS_DISCONNECTED"),
    ),
    "frost": ("FROST", "LOW_AMBIENT_TEMPERATURE", "LOW_ABIENT_TEMPERATURE"),  # sic: kamwater
    "overflow": ("FLOW_ABOVE_Q4", "OVERFLOW", "OVERLOAD", "MAXIMUM_FLOW"),
}
_ALARM_BY_WORD: Mapping[str, str] = {
    word: alarm for alarm, words in _WORDS_BY_ALARM.items() for word in words
}
# States a meter reports that are not faults: no use at night, a flow below the meter's start,
# warm water in a cold-water meter. The meter's data says them better than an alarm would.
_NOT_ALARMS = frozenset(
    {"OK", "NO_ALARM", "NO_TYPE_INFO", "NO_FLOW", "NO_CONSUMPTION", "MINIMUM_FLOW"}
    | {"UNDERFLOW", "HIGH_TEMPERATURE", "BUSY"}
)


def telegram_alarms(telegram: Mapping[str, object]) -> list[str] | None:
    """Our alarms from a telegram's status words; None when it has no status field at all
    ("the meter says all is well" is not "the meter says nothing")."""
    has_status = telegram.get("status") is not None
    texts = [
        opt_str(telegram, key, key)
        for key, deprecated in _FIELDS
        if not (deprecated and has_status)
    ]
    present = [text for text in texts if text is not None]
    if not present:
        return None
    words = {word.upper() for text in present for word in _SEPARATORS.split(text) if word}
    return sorted(alarms_of(words))


def alarms_of(words: set[str]) -> set[str]:
    """The alarms a set of upper-case words raises (see the module's rules)."""
    alarms: set[str] = set()
    generic: set[str] = set()
    for word in words:
        alarm = alarm_of(word)
        if word in _GENERIC:
            generic.add(word)
        elif alarm is not None:
            alarms.add(alarm)
    if not alarms:
        alarms = {OTHER_ALARM + word for word in generic}
    return alarms


def alarm_of(word: str) -> str | None:
    """The alarm one word raises, or None (past, not an alarm, or a generic marker)."""
    if _PAST.fullmatch(word):
        return None
    if word in _ALARM_BY_WORD:
        return _ALARM_BY_WORD[word]
    if word in _NOT_ALARMS or word in _GENERIC:
        return None
    if _UNNAMED_BITS.fullmatch(word):
        return "meter_error"
    return OTHER_ALARM + word
