"""`luciole decode`: what one payload yields, or why it is refused, without a broker.

With a site file, the message goes through the same intake as in the daemon (route by topic,
registry, normalisation). Without one, the format (and codec) named on the command line decode
it and the device check is skipped, which is how an operator tries a payload before
registering the device.
"""

import time
from dataclasses import dataclass

from controllers.settings import SiteConfig
from gateway.codecs import CODECS
from gateway.formats import FORMATS
from gateway.ingest.intake import Accepted, Duplicate, Intake, Rejection, Route


@dataclass(frozen=True)
class DecodeRequest:
    payload: bytes
    format: str | None
    codec: str | None
    topic: str | None
    site: SiteConfig | None


def decode(request: DecodeRequest) -> list[dict[str, object]] | Rejection:
    """The readings as JSON-ready dicts (with their `kind`), or the rejection."""
    site = request.site or _placeholder_site(request.topic)
    intake = Intake(site, decode_only=request.site is None)
    route = _route(request, intake)
    if isinstance(route, Rejection):
        return route
    topic = request.topic or route.filter.replace("+", "x").replace("#", "x")
    result = intake.message(topic, request.payload, time.time(), route)
    if isinstance(result, Rejection):
        return result
    if isinstance(result, Duplicate):  # cannot happen for a single message; said for clarity
        return Rejection("duplicate", "the same uplink twice")
    return _rows(result)


def _route(request: DecodeRequest, intake: Intake) -> Route | Rejection:
    if request.format is None:
        route = intake.route(request.topic or "")
        if route is None:
            return Rejection("no_route", "give --format, or a --topic that a site source matches")
        return route
    if request.format not in FORMATS:
        return Rejection("unknown_format", f"known formats: {', '.join(FORMATS)}")
    if request.codec is not None and request.codec not in CODECS:
        return Rejection("unknown_codec", f"known codecs: {', '.join(CODECS)}")
    codec = CODECS[request.codec] if request.codec else None
    return Route(request.topic or "#", request.format, codec)


def _rows(accepted: Accepted) -> list[dict[str, object]]:
    rows = []
    for reading in accepted.readings:
        kind = type(reading).__name__.removesuffix("Reading").lower()
        rows.append({"kind": kind, **reading.model_dump(exclude_none=True)})
    return rows


def _placeholder_site(topic: str | None) -> SiteConfig:
    """A site with no devices; for native payloads its id comes from the topic."""
    parts = (topic or "").split("/")
    prefix, site_id = (parts[0], parts[1]) if len(parts) >= 5 else ("luciole", "decode")
    return SiteConfig.model_validate(
        {
            "site": {"id": site_id or "decode", "latitude": 0, "longitude": 0},
            "broker": {"topic_prefix": prefix or "luciole"},
            "segments": [
                {
                    "id": "unregistered",
                    "street": "none",
                    "order": 0,
                    "length_m": 1,
                    "rated_power_w": 1,
                }
            ],
        }
    )
