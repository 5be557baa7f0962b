"""The collection list and the active leaks, read off the rules' state.

The collection list (`luciole bins due`, retained on `bins/due`): *urgent* are bins that are
full or forecast full within the horizon, or, for a bin with collection days, before the start
of its next collection day after today, the time to it lengthened by `bins.round_margin` (left
today, it would overflow before the truck comes back); *on the way* those forecast full
within twice the horizon. Each with its fill, its forecast (FIWARE `nextActuationDeadline`)
and the reason.
"""

import math
from dataclasses import dataclass
from typing import Literal

from gateway.services.registry import Fleet

Urgency = Literal["urgent", "on_the_way"]


@dataclass(frozen=True)
class DueBin:
    """A bin to collect."""

    device: str
    segment: str
    urgency: Urgency
    fill: float | None
    forecast_full_s: float | None
    reason: str
    latitude: float | None = None
    longitude: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "segment": self.segment,
            "urgency": self.urgency,
            "fill": None if self.fill is None else round(self.fill, 3),
            "forecast_full": self.forecast_full_s,
            "reason": self.reason,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }


@dataclass(frozen=True)
class ActiveLeak:
    """A meter's leak now: since when, how fast, how much lost and what it costs."""

    device: str
    segment: str
    since_s: float
    rate_m3h: float
    volume_m3: float
    cost: float | None
    currency: str

    def as_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "segment": self.segment,
            "since": self.since_s,
            "rate_l_h": round(self.rate_m3h * 1000.0, 1),
            "volume_m3": round(self.volume_m3, 3),
            "cost": None if self.cost is None else round(self.cost, 2),
            "currency": self.currency,
        }


def due_bins(
    bins: Fleet,
    *,
    fill: list[float],
    full: list[bool],
    forecast_s: list[float],
    next_round_s: list[float],
    now_s: float,
    within_s: float,
    round_margin: float = 0.0,
) -> list[DueBin]:
    """Urgent bins first (full ones, then by forecast), then those on the way.
    `next_round_s`: the start of each bin's next collection day after today (NaN: none, and
    NaN compares False); `round_margin` lengthens the time to it."""
    found: list[DueBin] = []
    for index, device_id in enumerate(bins.ids):
        level, forecast = fill[index], forecast_s[index]
        known = math.isfinite(forecast)
        if full[index]:
            urgency: Urgency | None = "urgent"
            reason = "full"
        elif known and forecast <= now_s + within_s:
            urgency, reason = "urgent", f"forecast full in {_hours(forecast - now_s)}"
        elif known and forecast - now_s < (next_round_s[index] - now_s) * (1 + round_margin):
            urgency = "urgent"
            reason = f"forecast full in {_hours(forecast - now_s)}, before its next round"
        elif known and forecast <= now_s + 2 * within_s:
            urgency, reason = "on_the_way", f"forecast full in {_hours(forecast - now_s)}"
        else:
            urgency = None
        if urgency is None:
            continue
        device = bins.devices[index]
        found.append(
            DueBin(
                device_id,
                device.segment,
                urgency,
                level if math.isfinite(level) else None,
                forecast if known else None,
                reason,
                device.latitude,
                device.longitude,
            )
        )
    order = {"urgent": 0, "on_the_way": 1}
    return sorted(
        found,
        key=lambda d: (order[d.urgency], d.reason != "full", d.forecast_full_s or 0.0, d.device),
    )


def _hours(seconds: float) -> str:
    hours = max(seconds, 0.0) / 3600.0
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"
