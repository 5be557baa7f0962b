"""A rule's change as the lamps' alert contract: a retained message on
`alert/{type}/{device}` when it starts and again with `"active": false` when it ends, and an
`alert` row; an event (an emptying, a meter's flag, a night's flow) as a row of its own kind.

Bodies are made from the change alone, whose times come from the readings: made again after a
restart that replays the same readings, a message is the same message and a row the same row
(its key), so the database keeps it once and a subscriber sees the same alert, not a new one.
"""

import json
import math

from controllers.services.changes import Change, Event
from gateway.services.registry import Fleet
from gateway.store.records import device_row
from gateway.store.spool import SpoolRow
from gateway.wire.outbound import Message
from gateway.wire.topics import Topics

DIGITS = 4


def alert_body(change: Change, fleet: Fleet) -> dict[str, object]:
    """The alert as published and stored (`ts`: when it was established, `since`: when its
    condition began, both epoch seconds)."""
    device = fleet.ids[change.index]
    return {
        "type": change.kind,
        "active": change.active,
        "device": device,
        "segment": fleet.devices[change.index].segment,
        "since": change.since_s,
        "ts": change.at_s,
        **_numbers(change.details),
    }


def alert_message(change: Change, fleet: Fleet, topics: Topics) -> Message:
    topic = topics.alert(change.kind, fleet.ids[change.index])
    return Message(topic, json.dumps(alert_body(change, fleet), allow_nan=False), retain=True)


def alert_row(change: Change, fleet: Fleet) -> SpoolRow:
    device = fleet.ids[change.index]
    fields = {k: v for k, v in alert_body(change, fleet).items() if k not in ("device", "ts")}
    key = f"{change.kind}:{device}:{change.active}:{change.since_s!r}"
    segment = fleet.devices[change.index].segment
    return device_row(
        "alert", change.at_s, device_id=device, segment=segment, key=key, fields=fields
    )


def event_row(event: Event, fleet: Fleet) -> SpoolRow:
    device = fleet.ids[event.index]
    fields = {"type": event.kind, **_numbers(event.details)}
    key = f"{event.kind}:{device}:{event.at_s!r}"
    segment = fleet.devices[event.index].segment
    return device_row(
        "event", event.at_s, device_id=device, segment=segment, key=key, fields=fields
    )


def _numbers(details: dict[str, float]) -> dict[str, float | None]:
    """Rounded for people; a NaN (unknown) becomes null, which JSON can carry."""
    return {k: round(v, DIGITS) if math.isfinite(v) else None for k, v in details.items()}
