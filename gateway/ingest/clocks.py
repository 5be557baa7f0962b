"""Device clocks: the time a reading is stored at, one rule for every wire format.

A device's time is kept when it falls within [2010-01-01T00:00:00Z, receive time + 1 day].
Outside it, the reading is stored at its receive time, as a reading sent without a time is;
each one is counted, and logged per device at most once an hour of receive time, with how many
there were since the last line. Why these bounds:
- 2010: a clock that lost power restarts at 1970 (Unix), 1980 (GPS) or 2000 (DS1307, DS3231,
  PCF8563) and runs on from there, and placeholders such as `1111-11-11T11:11:11Z` (in
  wmbusmeters' documentation) come out centuries early; a floor at 2000 would keep the times of
  a clock reset to 2000. No low-power sensor network is older (LoRaWAN 1.0 is from 2015), and
  a back-dated reading (a meter's hourly log) is hours or days old.
- a day ahead: a device that sends its local time marked as UTC is at most 14 h ahead (UTC+14),
  while VictoriaMetrics skips, with a 204, samples more than two days ahead of its own clock
  (v1.79: 47 h ahead kept, 49 h dropped), and a time past 2262 does not fit line protocol's
  nanoseconds at all. Either way the reading would be marked written and be lost.
Refusing such readings instead would lose their values (a meter's index) for a fault of the
device's clock alone. The gateway's clock is the reference, so it must be kept right (NTP).
"""

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.logs import event

log = logging.getLogger("luciole.intake")

EARLIEST_S = 1_262_304_000.0  # 2010-01-01T00:00:00Z
AHEAD_S = 86_400.0
WARN_EVERY_S = 3600.0  # a device with a broken clock that reports every 10 s: 1 line, not 360


class DeviceClocks:
    """Checks device times against the receive time; counts and logs the implausible ones."""

    def __init__(self, on_implausible: Callable[[], None] | None = None) -> None:
        self.implausible: Counter[str] = Counter()  # per device, since start
        self._on_implausible = on_implausible  # e.g. a metric's increment
        self._warned: dict[str, tuple[float, int]] = {}  # device → (warned at, count then)

    def checked(self, device_id: str, ts_s: float | None, received_s: float) -> float | None:
        """`ts_s` when it is plausible, else None (the reading then takes its receive time)."""
        if ts_s is None or EARLIEST_S <= ts_s <= received_s + AHEAD_S:
            return ts_s
        self.implausible[device_id] += 1
        if self._on_implausible is not None:
            self._on_implausible()
        self._warn(device_id, ts_s, received_s)
        return None

    def _warn(self, device_id: str, ts_s: float, received_s: float) -> None:
        warned_s, count_then = self._warned.get(device_id, (None, 0))
        if warned_s is not None and received_s - warned_s < WARN_EVERY_S:
            return
        count = self.implausible[device_id]
        self._warned[device_id] = (received_s, count)
        event(
            log,
            logging.WARNING,
            "device clock implausible; readings stored at their receive time",
            device=device_id,
            device_time=_when(ts_s),
            received=_when(received_s),
            since_last_warning=count - count_then,
        )


def _when(ts_s: float) -> str:
    """RFC 3339 when the time has a calendar date, else the number of seconds."""
    try:
        return datetime.fromtimestamp(ts_s, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{ts_s!r} s"
