"""Places for runs that must happen at night whatever the wall clock says."""


def midnight_longitude(now_s: float) -> tuple[float, str]:
    """A longitude where it is about local midnight at `now_s`, with the fixed-offset zone of
    that longitude (so the site's local date and the sun agree). At the equator the night
    there lasts about six hours either side."""
    utc_hour = (now_s % 86400) / 3600
    offset_h = round((24 - utc_hour) % 24)  # local solar midnight is where UTC+offset reads 00:00
    offset_h = offset_h - 24 if offset_h > 12 else offset_h
    zone = "UTC" if offset_h == 0 else f"Etc/GMT{-offset_h:+d}"  # Etc/ signs are inverted
    return offset_h * 15.0, zone
