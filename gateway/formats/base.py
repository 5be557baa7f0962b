"""What every wire-format decoder produces, and how it refuses.

A decoder turns one MQTT message into `Decoded` records: measurements addressed by the id the
sender uses on the network (a devEUI, a SenML name, a wireless M-Bus id, our own device id).
The registry lookup, de-duplication and normalisation (cumulative counters to deltas, distance
to fill ratio, meter rollover) happen after decoding, where the device's settings are known.
A decoder never raises anything but `DecodeError`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from controllers.services.water_rules import FLAGS as WATER_FLAGS
from gateway.wire.payloads import Kind

# The value names a decoder may use, per kind, with units in the names.
VALUE_KEYS: Mapping[Kind, frozenset[str]] = {
    # count: walkers in period_s (0: one event); count_in/count_out by direction;
    # total/total_in/total_out: the device's cumulative counters (turned into deltas later);
    # line: which of the device's counting lines (a VS133 has four, each with its own totals).
    "pedestrian": frozenset(
        {
            "line",
            "count",
            "count_in",
            "count_out",
            "period_s",
            "direction",
            "total",
            "total_in",
            "total_out",
        }
    ),
    "bin": frozenset(
        {"distance_mm", "fill_ratio", "temperature_c", "tilt", "alarms", "battery_pct"}
    ),
    "water": frozenset({"total_m3", "flow_m3h", "backflow_m3", "alarms", "battery_pct"}),
}

# One vocabulary for alarms, whatever the vendor calls them. A decoder that reads a vendor's
# flag with no word here keeps it as `other:<FLAG>` (see `OTHER_ALARM`) rather than lose it.
OTHER_ALARM = "other:"
ALARMS: Mapping[Kind, frozenset[str]] = {
    "pedestrian": frozenset(),
    "bin": frozenset({"tilt", "fire", "low_battery", "sensor_error", "full"}),
    "water": frozenset(WATER_FLAGS),  # the water rules know each by its bit
}


@dataclass(frozen=True)
class Decoded:
    """One measurement of one device, as the sender addressed it."""

    network_id: str
    kind: Kind
    ts_s: float | None
    values: Mapping[str, object]
    dedup_key: str | None = None  # the same key twice means the same uplink (drop the second)
    source: str = field(default="", compare=False)  # which decoder made it, for metrics


class DecodeError(Exception):
    """A message that cannot be decoded: `reason` for counters, `detail` for the operator."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
