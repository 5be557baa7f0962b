"""Astronomical clock: is the site between sunset and sunrise (with offsets) at a given instant?

Sun times come from astral for the site's latitude and longitude, on the site's local date, so
DST changes are handled by the time zone. Where the sun does not set or rise that day (polar
summer or winter), the sun's elevation at local noon decides.
"""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset


class AstronomicalClock:
    """Sun times for one site; time is passed in as epoch seconds, nothing reads the clock."""

    def __init__(self, latitude: float, longitude: float, timezone: str) -> None:
        self._observer = Observer(latitude=latitude, longitude=longitude)
        self._zone = ZoneInfo(timezone)
        self._sun_times = lru_cache(maxsize=64)(self._compute_sun_times)

    def local_date(self, now_s: float) -> date:
        return datetime.fromtimestamp(now_s, self._zone).date()

    def sun_times(self, day: date) -> tuple[float | None, float | None]:
        """(sunrise, sunset) of the local `day` as epoch seconds; None where it does not happen."""
        return self._sun_times(day)

    def is_lit(self, now_s: float, sunset_offset_s: float, sunrise_offset_s: float) -> bool:
        """True between sunset + sunset_offset_s and the next sunrise + sunrise_offset_s."""
        day = self.local_date(now_s)
        rise, set_ = self.sun_times(day)
        if rise is None or set_ is None:
            return self._dark_at_noon(day)
        return now_s < rise + sunrise_offset_s or now_s >= set_ + sunset_offset_s

    def _compute_sun_times(self, day: date) -> tuple[float | None, float | None]:
        try:
            rise = sunrise(self._observer, date=day, tzinfo=self._zone).timestamp()
        except ValueError:
            rise = None
        try:
            set_ = sunset(self._observer, date=day, tzinfo=self._zone).timestamp()
        except ValueError:
            set_ = None
        return rise, set_

    def _dark_at_noon(self, day: date) -> bool:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=self._zone)
        return float(elevation(self._observer, noon + timedelta(0))) < 0
