"""MQTT topic names of the wire contract (DESIGN.md, "Wire contracts")."""

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Topics:
    """All topics of one site under a configurable prefix."""

    prefix: str
    site: str

    @cached_property
    def root(self) -> str:
        # Cached: the parse methods run for every message the daemon receives.
        return f"{self.prefix}/{self.site}"

    @cached_property
    def _lamp_prefix(self) -> str:
        return f"{self.root}/lamp/"

    @cached_property
    def _override_prefix(self) -> str:
        return f"{self.root}/override/"

    @property
    def sensors(self) -> str:
        """Subscription filter for every native sensor payload."""
        return f"{self.root}/sensor/+/+"

    @property
    def overrides(self) -> str:
        return f"{self.root}/override/+"

    @property
    def lamp_states(self) -> str:
        """Subscription filter for the lamps' feedback."""
        return f"{self.root}/lamp/+/state"

    @property
    def deadletter(self) -> str:
        return f"{self.root}/deadletter"

    @property
    def bins_due(self) -> str:
        """The collection list, retained, for the city's routing tool."""
        return f"{self.root}/bins/due"

    def sensor(self, kind: str, device_id: str) -> str:
        return f"{self.root}/sensor/{kind}/{device_id}"

    def lamp_set(self, segment_id: str) -> str:
        return f"{self.root}/lamp/{segment_id}/set"

    def lamp_state(self, segment_id: str) -> str:
        return f"{self.root}/lamp/{segment_id}/state"

    def override(self, target: str) -> str:
        return f"{self.root}/override/{target}"

    def alert(self, kind: str, subject: str) -> str:
        return f"{self.root}/alert/{kind}/{subject}"

    def parse_lamp_state(self, topic: str) -> str | None:
        """The segment id of a lamp state topic, or None."""
        return self._parse_lamp(topic, "/state")

    def parse_lamp_set(self, topic: str) -> str | None:
        """The segment id of a lamp command topic, or None."""
        return self._parse_lamp(topic, "/set")

    def _parse_lamp(self, topic: str, suffix: str) -> str | None:
        prefix = self._lamp_prefix
        if not topic.startswith(prefix) or not topic.endswith(suffix):
            return None
        segment = topic[len(prefix) : -len(suffix)]
        return segment if segment and "/" not in segment else None

    def parse_sensor(self, topic: str) -> tuple[str, str] | None:
        """(kind, device_id) of a sensor topic, or None if it is not one."""
        parts = topic.split("/")
        root = self.root.split("/")
        if (
            len(parts) != len(root) + 3
            or parts[: len(root)] != root
            or parts[len(root)] != "sensor"
        ):
            return None
        return parts[-2], parts[-1]

    def parse_override(self, topic: str) -> str | None:
        """The target (segment, street or `all`) of an override topic, or None."""
        prefix = self._override_prefix
        if not topic.startswith(prefix):
            return None
        target = topic.removeprefix(prefix)
        return target if target and "/" not in target else None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` by MQTT's rules (`+` one level, `#` the rest,
    the parent level included). Topics starting with `$` are not matched by a filter starting
    with a wildcard, as MQTT 3.1.1 §4.7.2 says."""
    if topic.startswith("$") and topic_filter[:1] in {"+", "#"}:
        return False
    wanted, given = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return index == len(wanted) - 1
        if index >= len(given) or (level != "+" and level != given[index]):
            return False
    return len(wanted) == len(given)
