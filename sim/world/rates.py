"""Walker arrival rates per street: a 24-hour profile, or real hourly counts from a CSV.

A count at a place is the number of people who passed it in an hour; a street's flow is the
mean count of the places on it. Counts are held for their hour (not interpolated), so the
walkers of an hour add up to its count.
"""

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from controllers.topology import FloatArray


class CountsError(ValueError):
    """A counts file that cannot be used, with the row or column at fault."""


@dataclass(frozen=True)
class HourlyCounts:
    """Counts by place: `counts[place][i]` walkers in the hour starting at `hour_s[i]`."""

    hour_s: FloatArray
    counts: dict[str, FloatArray]

    def flow(self, places: Sequence[str]) -> FloatArray:
        """Mean hourly count of `places`, ignoring places with no data that hour (0 if none)."""
        missing = [p for p in places if p not in self.counts]
        if missing:
            known = ", ".join(sorted(self.counts)[:8])
            raise CountsError(f"no column {missing[0]!r} in the counts file; columns: {known}...")
        stacked = np.vstack([self.counts[p] for p in places])
        seen = ~np.isnan(stacked)
        total = np.where(seen, stacked, 0.0).sum(axis=0)
        places_known = seen.sum(axis=0)
        mean: FloatArray = np.divide(total, np.maximum(places_known, 1))
        return mean


def read_counts(path: Path, zone: ZoneInfo, day_start_hour: int = 0) -> HourlyCounts:
    """Read a wide counts CSV: `date`, `hour`, then one column per place (blank = no data).

    Other non-numeric columns (such as `year`) are skipped. Rows whose hour is before
    `day_start_hour` belong to the next calendar day.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for needed in ("date", "hour"):
            if needed not in fields:
                raise CountsError(f"{path}: no {needed!r} column (columns: {', '.join(fields)})")
        places = [f for f in fields if f not in ("date", "hour", "year")]
        rows = [
            _row(path, number=n, row=r, places=places, zone=zone, day_start_hour=day_start_hour)
            for n, r in enumerate(reader, start=2)
        ]
    rows.sort(key=lambda r: r[0])
    hour_s = np.array([r[0] for r in rows], dtype=np.float64)
    counts = {p: np.array([r[1][i] for r in rows], dtype=np.float64) for i, p in enumerate(places)}
    return HourlyCounts(hour_s, counts)


def _row(
    path: Path,
    *,
    number: int,
    row: dict[str, str],
    places: list[str],
    zone: ZoneInfo,
    day_start_hour: int,
) -> tuple[float, list[float]]:
    try:
        day = date.fromisoformat(row["date"].strip()[:10])
        hour = _hour(row["hour"])
    except ValueError as error:
        raise CountsError(f"{path}:{number}: {error}") from None
    if hour < day_start_hour:
        day += timedelta(days=1)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=zone).timestamp()
    return start, [_count(path, number, place, row.get(place, "")) for place in places]


def _hour(text: str) -> int:
    """`7`, `07`, `7:00` or `7:00-7:59` → 7."""
    head = text.strip().split("-")[0].split(":")[0]
    hour = int(head)
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0..23 (got {text!r})")
    return hour


def _count(path: Path, number: int, place: str, text: str) -> float:
    if not text.strip():
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise CountsError(f"{path}:{number}: {place}: not a number ({text!r})") from None
    if value < 0 or not math.isfinite(value):
        raise CountsError(f"{path}:{number}: {place}: a count must be ≥ 0 (got {text!r})")
    return value


class Rates:
    """Arrivals per hour of every street at a given instant."""

    def __init__(self, zone: ZoneInfo, streets: int) -> None:
        self._zone = zone
        self._profiles = np.zeros((streets, 24))
        self._series: dict[int, tuple[FloatArray, FloatArray]] = {}

    @classmethod
    def flat(cls, zone: ZoneInfo, streets: int, profile: Sequence[float]) -> "Rates":
        """The same 24-hour profile on every street."""
        rates = cls(zone, streets)
        for street in range(streets):
            rates.set_profile(street, profile)
        return rates

    def set_profile(self, street: int, profile: Sequence[float]) -> None:
        """A 24-value profile by local hour, interpolated between hours."""
        if len(profile) != 24:
            raise ValueError(f"a rate profile needs 24 hourly values (got {len(profile)})")
        self._profiles[street] = np.asarray(profile, dtype=np.float64)

    def set_series(self, street: int, hour_s: FloatArray, per_h: FloatArray) -> None:
        """Hourly counts held for their hour; outside the series the rate is 0."""
        self._series[street] = (hour_s, per_h)

    def at(self, now_s: float) -> FloatArray:
        """Arrivals per hour of every street at `now_s`."""
        local = datetime.fromtimestamp(now_s, self._zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        hours = np.arange(25, dtype=np.float64)
        looped = np.hstack([self._profiles, self._profiles[:, :1]])
        rate: FloatArray = np.array([np.interp(hour, hours, row) for row in looped])
        for street, (hour_s, per_h) in self._series.items():
            index = int(np.searchsorted(hour_s, now_s, side="right")) - 1
            inside = 0 <= index < len(hour_s) and now_s < hour_s[index] + 3600
            rate[street] = per_h[index] if inside else 0.0
        return rate
