"""What each role of `luciole run --role` subscribes to, and what it does with a reading.

- `all` (the default): one daemon stores every reading and lights the site.
- `ingest`: a worker that only stores. Its sensor subscriptions are shared
  (`$share/{group}/{filter}`, MQTT 5 shared subscriptions, which mosquitto also grants to
  3.1.1 clients), so N workers split the messages between them. Mosquitto deals a group's
  messages round-robin: one segment's detections would reach several workers out of order,
  so a worker never lights (tests/e2e/test_ingest_workers_e2e.py shows the split).
- `control`: the lighting and the city services, on plain subscriptions (every message, in
  order), leaving the storing of readings to the ingest workers; its spool keeps the state
  that survives a restart (overrides, flows, alerts), not the readings.
"""

from gateway.config import Role
from gateway.ingest.intake import Route

QOS = 1


def lights(role: Role) -> bool:
    """Whether the role runs the lighting and the city services."""
    return role != "ingest"


def stores_readings(role: Role) -> bool:
    """Whether the role keeps the readings it takes (for the database)."""
    return role != "control"


def shared(topic_filter: str, group: str) -> str:
    """`topic_filter` as a member of the shared subscription `group`."""
    if topic_filter.startswith("$share/"):
        return topic_filter  # a source that asked for its own group keeps it
    return f"$share/{group}/{topic_filter}"


def sensor_subscriptions(role: Role, routes: list[Route], group: str) -> list[tuple[str, int]]:
    """The sensor routes' filters, shared among the group for an ingest worker."""
    if role == "ingest":
        return [(shared(route.subscription, group), QOS) for route in routes]
    return [(route.subscription, QOS) for route in routes]
