"""`luciole decode`: what one payload yields, or why it is refused, without a broker.

With a site file, the message goes through the same intake as in the daemon (route by topic,
registry, normalisation). Without one, the format (and codec) named on the command line decode
it and the device check is skipped, which is how an operator tries a payload before
registering the device. Without a format, and with no site source matching the topic, the
payload's shape picks one (`gateway.formats.shape`), and the outcome says which.

When a message yields no reading, the outcome also says what it held
(`gateway.formats.explain`): the decoded fields of the device, beside the reason.
"""

import time
from dataclasses import dataclass

from controllers.settings import SiteConfig
from gateway.codecs import CODECS
from gateway.formats import FORMATS, Message
from gateway.formats.base import DecodeError
from gateway.formats.common import parse_json
from gateway.formats.explain import said
from gateway.formats.shape import Guess, guess_format
from gateway.ingest.intake import Accepted, Duplicate, Intake, Rejection, Route

NO_READING_YET = "no reading yet: a counter's first total is its baseline, the next one counts"


@dataclass(frozen=True)
class DecodeRequest:
    payload: bytes
    format: str | None
    codec: str | None
    topic: str | None
    site: SiteConfig | None


@dataclass(frozen=True)
class DecodeOutcome:
    """The readings (JSON-ready, with their `kind`) or the rejection; the format guessed from
    the payload's shape, if it was; and, when there is no reading, what the message held
    (`said`, None when it adds nothing to the payload itself)."""

    rows: list[dict[str, object]]
    rejection: Rejection | None = None
    guessed: Guess | None = None
    said: dict[str, object] | None = None


def decode(request: DecodeRequest) -> DecodeOutcome:
    """Decode one payload as the gateway would, and explain an empty outcome."""
    site = request.site or _placeholder_site(request.topic)
    intake = Intake(site, decode_only=request.site is None)
    routed = _route(request, intake)
    if isinstance(routed, Rejection):
        return DecodeOutcome([], routed)
    route, guessed = routed
    if route.format == "native" and guessed is not None and not request.topic:
        why = "a native payload is addressed by its topic: give --topic <prefix>/<site>/sensor/..."
        return DecodeOutcome([], Rejection("no_topic", why), guessed)
    topic = request.topic or route.filter.replace("+", "x").replace("#", "x")
    received_s = time.time()
    result = intake.message(topic, request.payload, received_s, route)
    if isinstance(result, Accepted) and result.readings:
        return DecodeOutcome(_rows(result), None, guessed)
    held = _said(
        route.format, Message(topic, request.payload, received_s, route.codec, intake.topics)
    )
    if isinstance(result, Duplicate):  # cannot happen for a single message; said for clarity
        return DecodeOutcome([], Rejection("duplicate", "the same uplink twice"), guessed, held)
    rejection = result if isinstance(result, Rejection) else None
    return DecodeOutcome([], rejection, guessed, held)


def _route(request: DecodeRequest, intake: Intake) -> tuple[Route, Guess | None] | Rejection:
    """The named format; else the site source the topic matches; else the payload's shape."""
    if request.codec is not None and request.codec not in CODECS:
        return Rejection("unknown_codec", f"known codecs: {', '.join(CODECS)}")
    codec = CODECS[request.codec] if request.codec else None
    if request.format is not None:
        if request.format not in FORMATS:
            return Rejection("unknown_format", f"known formats: {', '.join(FORMATS)}")
        return Route(request.topic or "#", request.format, codec), None
    route = intake.route(request.topic) if request.topic else None
    if route is not None:
        return route, None
    guessed = guess_format(request.payload)
    if guessed is None:
        known = ", ".join(FORMATS)
        return Rejection("unknown_shape", f"not the shape of any format: give --format ({known})")
    return Route(request.topic or "#", guessed.format, codec), guessed


def _said(format_name: str, message: Message) -> dict[str, object] | None:
    """What the message held, unless that is only its own JSON again (native, wmbusmeters)."""
    held = said(format_name, message)
    try:
        same = held == parse_json(message.payload)
    except DecodeError:
        same = False
    only_why = set(held) == {"unreadable"}  # the refusal already says why it is unreadable
    return None if same or only_why else held


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
