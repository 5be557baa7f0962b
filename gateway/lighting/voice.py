"""The daemon is the only voice on its command topics: a lamp command it did not send is
answered at once.

The daemon subscribes to `lamp/+/set` too, and hears its own commands come back. A message
there that is none of its own (byte for byte what it published for that segment) is a foreign
command: counted, raised as a `foreign_command` alert through the lamps' alert contract
(retained on `alert/foreign_command/{segment}`, stored as an `alert` row) and corrected at
once: the lamp is sent its level again, retained, so that the broker keeps the daemon's word
and not the forger's. The alert ends (`"active": false`) when that correction comes back.
Forgeries that follow while the alert is active are corrected on the next tick, not at once:
two daemons told to drive the same lamps would otherwise correct each other as fast as the
broker carries it; this way each does so once a tick, loudly.

Start-up and reconnects: a new subscription is handed the retained commands of the previous
run, and a persistent session may still hold commands sent before a crash; neither is a
forgery, and the daemon sends every lamp its level on connecting anyway. So until a segment's
first own command of this connection comes back, what arrives on its topic is old news and
raises nothing: MQTT keeps the messages of one topic in order, so a forgery published after
that command arrives after it, and one published before it was overwritten by it.
"""

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from gateway.lighting.control import Lighting
from gateway.lighting.feedback import Message
from gateway.store.records import controller_row
from gateway.store.spool import SpoolRow

ALERT = "foreign_command"
# Own commands per segment whose echo may still be on its way: a burst of presence changes
# sends a few; more than this unheard means the echoes are not coming (no read access).
ECHOES_KEPT = 64
SHOWN_BYTES = 200  # of a forged payload, in the alert


@dataclass(frozen=True)
class Heard:
    """What a message on a lamp command topic was, whether to correct it at once (else on the
    next tick), and the alert to publish and store."""

    verdict: Literal["own", "early", "foreign", "unknown_segment"]
    segment: str | None
    at_once: bool = False
    alerts: list[Message] = field(default_factory=list)
    rows: list[SpoolRow] = field(default_factory=list)


class CommandWatch:
    """Compares what arrives on `lamp/+/set` with what the daemon published there."""

    def __init__(self, lighting: Lighting) -> None:
        self._lighting = lighting
        self._unheard: dict[str, deque[bytes]] = {}  # published, echo not back yet
        self._echoed: dict[str, bytes] = {}  # the last own command whose echo came back
        self._spoken: set[str] = set()  # segments with an own echo on this connection
        self._forged: dict[str, int] = {}  # segments whose alert is active: forgeries seen
        self._forged_level: dict[str, float | None] = {}

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self._lighting.topics.lamp_set("+"), 1)]

    def handles(self, topic: str) -> bool:
        return self._lighting.topics.parse_lamp_set(topic) is not None

    def published(self, segment: str, payload: bytes) -> None:
        """The daemon is publishing `payload` on the segment's command topic."""
        unheard = self._unheard.get(segment)
        if unheard is None:
            unheard = self._unheard[segment] = deque(maxlen=ECHOES_KEPT)
        unheard.append(payload)

    def connected(self) -> None:
        """A new connection: retained and queued commands come first (module docstring)."""
        self._spoken.clear()

    def heard(self, topic: str, payload: bytes, now_s: float) -> Heard:
        """One message from a lamp command topic."""
        segment = self._lighting.topics.parse_lamp_set(topic)
        if segment is None or segment not in self._lighting.topology.positions:
            return Heard("unknown_segment", segment)  # another daemon's, or nobody's lamp
        if self._own(segment, payload):
            self._spoken.add(segment)
            alerts, rows = self._ended(segment, now_s)
            return Heard("own", segment, alerts=alerts, rows=rows)
        if segment not in self._spoken:
            return Heard("early", segment)
        self._forged_level[segment] = _level(payload)
        seen = self._forged.get(segment, 0)
        self._forged[segment] = seen + 1
        heard = Heard("foreign", segment)  # its alert is already out: corrected next tick
        if not seen:
            alerts, rows = self._started(segment, payload, now_s)
            heard = Heard("foreign", segment, at_once=True, alerts=alerts, rows=rows)
        self._lighting.resend(segment)  # after the alert, which says what the lamp was told
        return heard

    def _own(self, segment: str, payload: bytes) -> bool:
        unheard = self._unheard.get(segment)
        if unheard and payload in unheard:
            while unheard.popleft() != payload:
                pass  # older ones whose echo was lost (QoS 1 does not lose; a reconnect may)
            self._echoed[segment] = payload
            return True
        return payload == self._echoed.get(segment)  # a redelivery, or retained at subscribe

    def _started(
        self, segment: str, payload: bytes, now_s: float
    ) -> tuple[list[Message], list[SpoolRow]]:
        shown = payload[:SHOWN_BYTES].decode("utf-8", "replace")
        return self._alert(segment, True, now_s, {"payload": shown})

    def _ended(self, segment: str, now_s: float) -> tuple[list[Message], list[SpoolRow]]:
        if segment not in self._forged:
            return [], []
        return self._alert(segment, False, now_s, {})

    def _alert(
        self, segment: str, active: bool, now_s: float, extra: dict[str, object]
    ) -> tuple[list[Message], list[SpoolRow]]:
        fields = {
            "type": ALERT,
            "active": active,
            "commanded": self._commanded(segment),
            "actual": self._forged_level.get(segment),
            "count": self._forged.get(segment, 1),
            **extra,
        }
        if not active:
            del self._forged[segment]
        body = {**fields, "segment": segment, "ts": now_s}
        message = Message(self._lighting.topics.alert(ALERT, segment), json.dumps(body), True)
        key = f"{ALERT}:{segment}:{active}:{now_s!r}"
        return [message], [controller_row("alert", now_s, segment, key, fields)]

    def _commanded(self, segment: str) -> float | None:
        """What the daemon last told the lamp (None: nothing yet)."""
        level = float(self._lighting.sent.sent_level[self._lighting.topology.positions[segment]])
        return round(level, 4) if level >= 0 else None


def _level(payload: bytes) -> float | None:
    """The level a forged command asked for, when it says one."""
    try:
        level = json.loads(payload).get("level")
    except (ValueError, AttributeError, RecursionError):
        return None
    if isinstance(level, bool) or not isinstance(level, int | float) or not math.isfinite(level):
        return None
    return float(level)
