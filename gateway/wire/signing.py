"""Signed overrides (README, "Who may override"): the bytes a sender signs, and the signature.

    sig = hex(HMAC-SHA256(key, "luciole-override-v1\\n" + topic + "\\n" + JCS(payload - sig)))

`JCS` is the JSON Canonicalization Scheme (RFC 8785): keys sorted by their UTF-16 code units,
no whitespace, numbers as ECMAScript prints them (1800.0 is `1800`, 1e-7 is `1e-7`), strings
with the shortest escapes. A CMS in any language has a JCS library; the daemon rebuilds the
same bytes from the fields it parsed, so how the sender spaced or wrote its numbers does not
matter. The topic is signed too: a message signed for `override/rue-des-lices-05` on one site
cannot be replayed on `override/all`, nor on another site's topics.
"""

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from decimal import Decimal

SCHEME = "luciole-override-v1"
SIGNATURE_FIELD = "sig"
SIGNATURE_HEX_DIGITS = 64  # SHA-256: 32 bytes
_EXACT_INTEGER = 2**53  # beyond it a JSON number is not exact as a double (RFC 8785 §3.2.2.3)


def canonical(topic: str, fields: Mapping[str, object]) -> bytes:
    """What is signed: the scheme, the topic and the payload's fields except `sig`.

    ValueError for what JCS cannot carry (NaN, infinities, integers past 2**53, lone
    surrogates, keys that are not strings)."""
    rest = {key: value for key, value in fields.items() if key != SIGNATURE_FIELD}
    try:
        body = _jcs(rest).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate, which UTF-8 cannot carry") from None
    return f"{SCHEME}\n{topic}\n".encode() + body


def signature(key: bytes, topic: str, fields: Mapping[str, object]) -> str:
    """The hex HMAC-SHA256 of `canonical(topic, fields)` under `key`."""
    return hmac.new(key, canonical(topic, fields), hashlib.sha256).hexdigest()


def sign(key: bytes, topic: str, fields: Mapping[str, object]) -> dict[str, object]:
    """`fields` with their `sig`, ready to publish on `topic`."""
    return {**fields, SIGNATURE_FIELD: signature(key, topic, fields)}


def verify(key: bytes, topic: str, fields: Mapping[str, object]) -> bool:
    """Whether `fields["sig"]` is the signature of the rest; compared in constant time."""
    given = fields.get(SIGNATURE_FIELD)
    if not isinstance(given, str) or len(given) != SIGNATURE_HEX_DIGITS:
        return False
    try:
        expected = signature(key, topic, fields)
    except ValueError:
        return False
    # As bytes: compare_digest refuses str holding anything but ASCII.
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


def _jcs(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("object keys must be strings")
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))  # UTF-16 code unit order
        return "{" + ",".join(f"{_jcs(key)}:{_jcs(value[key])}" for key in keys) + "}"
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def _number(value: float) -> str:
    """A number as ECMAScript's Number.prototype.toString prints it (RFC 8785 §3.2.2.3)."""
    if isinstance(value, int) and abs(value) > _EXACT_INTEGER:
        raise ValueError(f"integer {value} is past 2**53: not exact as a JSON number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{number!r} is not a JSON number")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that read back as the same double, as ECMAScript does.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    assert isinstance(exponent, int)  # finite
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    k, n = len(digits), exponent + len(digits)  # the value is 0.digits × 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    mantissa = digits[0] + (f".{digits[1:]}" if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"
