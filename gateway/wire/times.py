"""Times as the wire carries them: RFC 3339 text (an offset required), to epoch seconds."""

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
    r"(?:[Zz]|([+-])([01]\d|2[0-3]):([0-5]\d))",
    re.ASCII,
)


def rfc3339_s(text: str) -> float:
    """RFC 3339 text → epoch seconds; ValueError for anything else, such as a time without an
    offset (whose zone nobody knows) or ISO 8601's other forms (`20261201`, a date alone).

    Nanoseconds are cut to microseconds (a float holds no more at today's epoch) and a leap
    second counts as the next second."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"expected an RFC 3339 time with an offset, got {text!r:.60}")
    try:
        # Its shape checked, the usual forms go to the C parser: 0.3 µs against 2.8 µs below.
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return _from_parts(match, text)  # lowercase t or z, a leap second, or not a real date


def _from_parts(match: re.Match[str], text: str) -> float:
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    sign, off_h, off_m = match.group(8, 9, 10)
    offset_s = 0 if sign is None else int(f"{sign}1") * (int(off_h) * 3600 + int(off_m) * 60)
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), micros, tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"{error} in {text!r:.60}") from None
    return moment.timestamp() - offset_s + (1.0 if second == 60 else 0.0)
