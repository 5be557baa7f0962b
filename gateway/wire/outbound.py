"""What the daemon publishes besides lamp commands: alerts and lists, as topic and JSON."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """Something to publish (QoS 1)."""

    topic: str
    payload: str
    retain: bool
