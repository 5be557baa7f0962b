"""Lamp state messages in, alerts out: the daemon's side of controllers.feedback.

`lamp/{segment}/state` payloads are validated (LampState) and fed to the monitor; each tick
the monitor compares them with what was sent. An alert that starts or ends is published,
retained, on `alert/{type}/{segment}` (so a dashboard that connects later sees what is
active) and stored as an `alert` row.
"""

import json

from pydantic import ValidationError

from controllers.feedback import AlertChange, Commanded, Monitor
from controllers.settings.policy import Alerts
from gateway.lighting.control import Lighting
from gateway.store.records import controller_row
from gateway.store.spool import SpoolRow, state_row
from gateway.wire.outbound import Message
from gateway.wire.payloads import LampState

__all__ = ["Feedback", "Message"]

ALERTS_ROOM = "lamp_alerts"  # spool state: each segment's last report and alerts


class Feedback:
    """Lamp reports of one site and the alerts they raise."""

    def __init__(self, lighting: Lighting) -> None:
        self._lighting = lighting
        self._monitor = Monitor(lighting.topology)

    @property
    def monitor(self) -> Monitor:
        """The latest report of every lamp and its alerts (what the console shows)."""
        return self._monitor

    def handles(self, topic: str) -> bool:
        return self._lighting.topics.parse_lamp_state(topic) is not None

    def state(self, topic: str, payload: bytes) -> str | None:
        """Take one lamp state message; an error text if it cannot be used."""
        segment = self._lighting.topics.parse_lamp_state(topic)
        if segment is None or segment not in self._lighting.topology.positions:
            return f"lamp state for unknown segment {segment!r}"
        try:
            state = LampState.model_validate_json(payload)
        except ValidationError as error:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        index = self._lighting.topology.positions[segment]
        self._monitor.report(index, state.level, state.power_w, state.status)
        return None

    def evaluate(self, now_s: float, rules: Alerts) -> tuple[list[Message], list[SpoolRow]]:
        """Compare reports with commands; what to publish and what to store."""
        told = self._commanded()
        if told is None:
            return [], []
        changes = self._monitor.evaluate(told, now_s, rules)
        messages = [self._message(change, now_s) for change in changes]
        rows = [self._row(change, now_s) for change in changes]
        rows += self._state_rows({change.segment for change in changes}, now_s)
        return messages, rows

    def _state_rows(self, segments: set[int], now_s: float) -> list[SpoolRow]:
        """The changed segments' reports and alerts, for a restart (`restore`)."""
        ids = self._lighting.topology.ids
        return [
            state_row(ALERTS_ROOM, ids[i], now_s, json.dumps(self._monitor.snapshot(i)))
            for i in sorted(segments)
        ]

    def snapshots(self) -> dict[str, str]:
        """Every segment's report and alerts, as `restore` takes them (for a reload)."""
        ids = self._lighting.topology.ids
        return {ids[i]: json.dumps(self._monitor.snapshot(i)) for i in range(len(ids))}

    def restore(self, stored: dict[str, str]) -> int:
        """The lamps' reports and alerts as the last run stored them; how many segments had
        an alert in force (held until they are told and settled again)."""
        positions = self._lighting.topology.positions
        count = 0
        for segment, body in stored.items():
            if segment in positions and body:
                saved = json.loads(body)
                self._monitor.restore(positions[segment], saved)
                count += bool(saved["active"])
        return count

    def _commanded(self) -> Commanded | None:
        step = self._lighting.last_step
        if step is None:
            return None
        sent = self._lighting.sent
        return Commanded(sent.sent_level, sent.sent_s, step.ramp_s, step.lit, step.override)

    def _fields(self, change: AlertChange, now_s: float) -> dict[str, object]:
        return {
            "type": change.kind,
            "active": change.active,
            "commanded": round(change.commanded, 4),
            "actual": round(change.actual, 4),
            "power_w": round(change.power_w, 2),
        }

    def _message(self, change: AlertChange, now_s: float) -> Message:
        segment = self._lighting.topology.ids[change.segment]
        body = {**self._fields(change, now_s), "segment": segment, "ts": now_s}
        topic = self._lighting.topics.alert(change.kind, segment)
        return Message(topic, json.dumps(body), retain=True)

    def _row(self, change: AlertChange, now_s: float) -> SpoolRow:
        segment = self._lighting.topology.ids[change.segment]
        key = f"{change.kind}:{segment}:{now_s!r}"
        return controller_row("alert", now_s, segment, key, self._fields(change, now_s))
