"""The console's view of the running daemon, and the operator's actions on it.

`DaemonHost` reads the daemon's parts as they are now (it is built once, and reads through the
daemon, so a reload's new parts are what it shows) and never queries the spool from the event
loop: the spool's figures are the ones housekeeping last took. Actions run between messages
and ticks (the daemon's busy lock):
- an override goes through the same desk as an override message (validated, capped at
  `overrides.max_duration_s`, recorded with the operator's name as its sender), its lamp
  commands published at once, its record and the lighting's state stored;
- an acknowledgement is stored in the spool's state (room `acks`), so it outlives a restart.
The console's own token is what authenticates the operator: an override's signature (which
MQTT senders need when the site names `overrides.senders`) is not asked of it.
"""

import asyncio
import json
import logging
import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from controllers.classes import CLASS_NAMES
from controllers.engine import REASON_NAMES
from controllers.feedback import ALERT_TYPES, STATUSES
from gateway.config import Settings
from gateway.console.host import ActionResult
from gateway.lighting import persist as lighting_state
from gateway.lighting.control import Lighting, Outgoing
from gateway.lighting.overrides import OverrideDesk, log_override, override_row
from gateway.lighting.services import LightingServices
from gateway.logs import event
from gateway.ops.metrics import Metrics
from gateway.services.city import CityServices
from gateway.store.spool import Spool, SpoolRow, state_row

log = logging.getLogger("luciole.gateway")

ACKS_ROOM = "acks"


class Daemon(Protocol):
    """What the host reads of the daemon (gateway.daemon.Daemon)."""

    settings: Settings
    lighting: Lighting
    services: LightingServices
    city: CityServices
    metrics: Metrics
    spool: Spool
    heard: dict[str, float]

    @property
    def connected(self) -> bool: ...

    def busy(self) -> asyncio.Lock: ...

    async def publish_commands(self, commands: list[Outgoing]) -> None: ...


class DaemonHost:
    """`ConsoleHost` over a running daemon."""

    def __init__(self, daemon: Daemon, now: Callable[[], float]) -> None:
        self._daemon = daemon
        self._now = now
        self.acks: dict[str, tuple[str, float]] = {}  # alert id → (who, when)

    def restore_acks(self, stored: dict[str, str]) -> None:
        """Acknowledgements of the last run (room `acks`: id → {"who", "at"})."""
        for alert_id, body in stored.items():
            if body:
                data = json.loads(body)
                self.acks[alert_id] = (str(data["who"]), float(data["at"]))

    def state(self) -> dict[str, object]:
        d, now_s = self._daemon, self._now()
        site = d.settings.site
        return {
            "site": {"id": site.site.id, "name": site.site.name, "timezone": site.site.timezone},
            "ts": now_s,
            "broker": {"url": site.broker.url, "connected": d.connected},
            "spool": self._spool(),
            "segments": self._segments(),
            "overrides": self._overrides(now_s),
            "alerts": self._alerts(),
            "devices": self._devices(),
            "energy": self._energy(),
        }

    def _spool(self) -> dict[str, object]:
        last = self._daemon.metrics.last_spool
        if last is None:
            return {
                "rows": None,
                "unwritten": None,
                "oldest_unwritten_age_s": None,
                "size_bytes": None,
            }
        stats, at_s = last
        oldest = stats.oldest_unwritten_ts_s
        return {
            "rows": stats.rows,
            "unwritten": stats.unwritten,
            "oldest_unwritten_age_s": None if oldest is None else max(0.0, at_s - oldest),
            "size_bytes": stats.size_bytes,
        }

    def _segments(self) -> list[dict[str, object]]:
        lighting = self._daemon.lighting
        step = lighting.last_step
        monitor = self._daemon.services.feedback.monitor
        flow = lighting.engine.flow
        slots = flow.source_slot
        per_h = flow.per_h(np.maximum(slots, 0))
        reasons = step.reason_of(slice(None)) if step is not None else None
        found = []
        for i, segment in enumerate(self._daemon.settings.site.segments):
            reported = not math.isnan(float(monitor.actual[i]))
            found.append(
                {
                    "id": segment.id,
                    "street": segment.street,
                    "order": segment.order,
                    "level": None if step is None else round(float(step.level[i]), 4),
                    "reason": None if reasons is None else REASON_NAMES[int(reasons[i])],
                    "traffic_class": _class(None if step is None else int(step.traffic_class[i])),
                    "start": None if segment.start is None else list(segment.start),
                    "end": None if segment.end is None else list(segment.end),
                    "lamp": {
                        "level": round(float(monitor.actual[i]), 4),
                        "power_w": round(float(monitor.power_w[i]), 2),
                        "status": STATUSES[int(monitor.status[i])],
                    }
                    if reported
                    else None,
                    "walkers_per_h": round(float(per_h[i]), 1) if slots[i] >= 0 else None,
                }
            )
        return found

    def _overrides(self, now_s: float) -> list[dict[str, object]]:
        lighting = self._daemon.lighting
        segments, levels, until_s = lighting.engine.overrides(now_s)
        ids = lighting.topology.ids
        return [
            {"segment": ids[int(i)], "level": round(float(level), 4), "until": float(until)}
            for i, level, until in zip(segments, levels, until_s, strict=True)
        ]

    def _alerts(self) -> list[dict[str, object]]:
        found = self._lamp_alerts() + self._city_alerts()
        for alert in found:
            acked = self.acks.get(str(alert["id"]))
            alert["acked"], alert["acked_by"] = acked is not None, acked[0] if acked else None
        return sorted(found, key=lambda a: (float(str(a["since"] or 0)), str(a["id"])))

    def _lamp_alerts(self) -> list[dict[str, object]]:
        monitor = self._daemon.services.feedback.monitor
        ids = self._daemon.lighting.topology.ids
        found: list[dict[str, object]] = []
        for kind in ALERT_TYPES:
            since = monitor.since(kind)
            for i in np.flatnonzero(monitor.active[kind]).tolist():
                since_s = float(since[i]) if math.isfinite(float(since[i])) else None
                found.append(_alert(kind, ids[i], since_s, since_s, {}))
        return found

    def _city_alerts(self) -> list[dict[str, object]]:
        found = []
        for message in self._daemon.city.active.values():
            body = json.loads(message.payload)
            details: dict[str, object] = {
                k: v
                for k, v in body.items()
                if isinstance(v, int | float) and k not in ("since", "ts")
            }
            found.append(
                _alert(str(body["type"]), str(body["device"]), body["since"], body["ts"], details)
            )
        return found

    def _devices(self) -> list[dict[str, object]]:
        d = self._daemon
        found: list[dict[str, object]] = [
            {
                "id": device_id,
                "kind": device.kind,
                "segment": device.segment,
                "last_heard": d.heard.get(device_id),
            }
            for device_id, device in sorted(d.settings.site.devices.items())
        ]
        return sorted(found, key=_staleness)

    def _energy(self) -> dict[str, object]:
        """Tonight's kWh (since the last dusk the daemon saw) per street and for the site."""
        log_ = self._daemon.services.energy
        tonight = log_.tonight()
        streets: dict[str, dict[str, float]] = {}
        for i, segment in enumerate(self._daemon.settings.site.segments):
            street = streets.setdefault(
                segment.street, {"kwh": 0.0, "always_on_kwh": 0.0, "static_kwh": 0.0}
            )
            street["kwh"] += float(tonight["energy_kwh"][i])
            street["always_on_kwh"] += float(tonight["always_on_kwh"][i])
            street["static_kwh"] += float(tonight["static_kwh"][i])
        site = {
            "kwh": float(tonight["energy_kwh"].sum()),
            "always_on_kwh": float(tonight["always_on_kwh"].sum()),
            "static_kwh": float(tonight["static_kwh"].sum()),
        }
        return {
            "since": log_.night_since_s,
            "site": {k: round(v, 4) for k, v in site.items()},
            "streets": {n: {k: round(v, 4) for k, v in vs.items()} for n, vs in streets.items()},
        }

    async def set_override(
        self, target: str, level: float, duration_s: float | None, who: str
    ) -> ActionResult:
        fields: dict[str, object] = {"level": level, "sender": who[:64]}
        if duration_s is not None:
            fields["duration_s"] = duration_s
        return await self._override(target, fields, who)

    async def clear_override(self, target: str, who: str) -> ActionResult:
        return await self._override(target, {"clear": True, "sender": who[:64]}, who)

    async def _override(self, target: str, fields: dict[str, object], who: str) -> ActionResult:
        d = self._daemon
        async with d.busy():
            now_s = self._now()
            payload = json.dumps(fields).encode()
            topic = d.lighting.topics.override(target)
            result = OverrideDesk(d.lighting).message(topic, target, payload, now_s)
            rows = [override_row(result.record, payload, now_s)]
            log_override(result.record)
            if result.rejection is not None:
                await asyncio.to_thread(d.spool.append_rows, rows)
                status = 404 if "unknown" in result.rejection.detail else 400
                return ActionResult(False, result.rejection.reason, result.rejection.detail, status)
            rows.append(lighting_state.overrides_row(d.lighting, now_s))
            await d.publish_commands(result.commands)
        await asyncio.to_thread(d.spool.append_rows, rows)
        event(
            log, logging.INFO, "console action", who=who, action="override", target=target, **fields
        )
        return ActionResult(True)

    async def ack_alert(self, alert_id: str, who: str) -> ActionResult:
        if alert_id not in {str(a["id"]) for a in self._alerts()}:
            return ActionResult(False, "unknown_alert", f"no active alert {alert_id!r}", 404)
        now_s = self._now()
        self.acks[alert_id] = (who, now_s)
        row: SpoolRow = state_row(ACKS_ROOM, alert_id, now_s, json.dumps({"who": who, "at": now_s}))
        await asyncio.to_thread(self._daemon.spool.append_rows, [row])
        event(log, logging.INFO, "console action", who=who, action="ack", alert=alert_id)
        return ActionResult(True)


def _alert(
    kind: str, subject: str, since_s: object, ts_s: object, details: dict[str, object]
) -> dict[str, object]:
    return {
        "id": f"{kind}:{subject}",
        "type": kind,
        "subject": subject,
        "since": since_s,
        "ts": ts_s,
        "details": details,
    }


def _class(index: int | None) -> str | None:
    return CLASS_NAMES[index] if index is not None and 0 <= index < len(CLASS_NAMES) else None


def _staleness(device: dict[str, object]) -> tuple[bool, float]:
    """Never heard first, then the longest silent: the stale ones head the list."""
    heard = device["last_heard"]
    return (heard is not None, float(heard) if isinstance(heard, int | float) else 0.0)
