"""Vendor byte codecs, by name: one explicit table, as python-can lists its backends."""

from gateway.codecs import (
    axioma_qalcosonic_w1,
    milesight_em400udl,
    milesight_vs133,
    milesight_vs350,
)
from gateway.codecs.base import Codec

CODECS: dict[str, Codec] = {
    "milesight-vs133": milesight_vs133.CODEC,
    "milesight-vs350": milesight_vs350.CODEC,
    "milesight-em400udl": milesight_em400udl.CODEC,
    "axioma-qalcosonic-w1": axioma_qalcosonic_w1.CODEC,
}


def codec(name: str) -> Codec:
    """The codec called `name`; KeyError naming the known ones when there is none."""
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise KeyError(f"unknown codec {name!r} (known: {known})") from None
