"""Bins and water meters of one site: readings in, one numpy step per batch, alerts out.

The daemon (and the offline replay, through `gateway.pipeline`) hands every bin and water
reading to `accept`, then calls `step` once per batch of messages: the batch's readings go to
the rules as arrays, the time-driven rules (late and missed collections, stopped meters) run
every `EVALUATE_S`, and what comes out is
- alerts (the lamps' contract, retained) and the collection list on `bins/due` when its
  membership changed, to publish;
- rows to store *with the readings of the batch*: alerts, events (emptyings, meters' flags,
  night flows), and the state of every device the batch touched. In one transaction with the
  readings (`gateway.store.spool.STATE`), so after a `kill -9` the state is that of the
  readings stored: the redelivered messages are then applied to the state they left, and a
  rule ignores a reading no newer than its device's last (no double counting).
`restore` reads the state back at start-up; `startup_messages` republishes the active alerts
(the same messages: a restart neither forgets an alert nor raises it anew) and the list.
"""

import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from controllers.services.bins import BinState, evaluate_bins, step_bins
from controllers.services.changes import Change, Event
from controllers.services.water import WaterState, evaluate_water, step_water
from controllers.settings import Policy, SiteConfig
from gateway.ingest.readings import BinReading, Reading, WaterReading
from gateway.services import persist
from gateway.services.alerts import alert_message, alert_row, event_row
from gateway.services.lists import ActiveLeak, DueBin, due_bins
from gateway.services.registry import Fleet, bin_batch, bin_rules, water_batch, water_rules
from gateway.store.spool import SpoolRow, state_row
from gateway.wire.outbound import Message
from gateway.wire.topics import Topics

EVALUATE_S = 60.0  # the time-driven rules need no finer grain: their thresholds are days
ALERTS_ROOM = "alerts"  # active alerts' messages, to republish after a restart


@dataclass
class Served:
    """What one step gives: messages to publish, rows to store with the batch, and the
    changes and events (with device ids) for whoever scores them (the simulator)."""

    messages: list[Message] = field(default_factory=list)
    rows: list[SpoolRow] = field(default_factory=list)
    alerts: list[tuple[str, str, float, float, bool]] = field(default_factory=list)
    emptyings: list[tuple[str, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.messages or self.rows)


class CityServices:
    """The bins and meters of one site, their rules' state and their active alerts."""

    def __init__(self, site: SiteConfig, policy: Policy) -> None:
        self.site, self.policy = site, policy
        self.topics = Topics(site.broker.topic_prefix, site.site.id)
        self.bins, self.meters = Fleet.of(site, "bin"), Fleet.of(site, "water")
        self.bin_rules, self.water_rules = (
            bin_rules(self.bins, policy),
            water_rules(self.meters, policy),
        )
        self.bin_state, self.water_state = BinState(self.bins.size), WaterState(self.meters.size)
        self._meters_stored = persist.WithIndexes(self.water_state, self.meters.size)
        self.zone = ZoneInfo(site.site.timezone)
        self._bin_readings: list[BinReading] = []
        self._water_readings: list[WaterReading] = []
        self.active: dict[str, Message] = {}  # alert topic → its start message
        self._due_members: tuple[tuple[str, str], ...] | None = None
        self._next_evaluation_s = -math.inf

    def accept(self, reading: Reading) -> None:
        """Take a bin or water reading of a registered device (others are not ours)."""
        if isinstance(reading, BinReading) and reading.device_id in self.bins.positions:
            self._bin_readings.append(reading)
        elif isinstance(reading, WaterReading) and reading.device_id in self.meters.positions:
            self._water_readings.append(reading)
            last = self._meters_stored.indexes[self.meters.positions[reading.device_id]]
            if not reading.ts_s < last[1]:  # NaN (never seen) compares False
                last[:] = (reading.total_m3, reading.ts_s)

    def utc_offset_s(self, now_s: float) -> float:
        offset = self.zone.utcoffset(datetime.fromtimestamp(now_s, tz=UTC))
        return 0.0 if offset is None else offset.total_seconds()

    def step(self, now_s: float) -> Served:
        """Apply the readings taken since the last step; evaluate the time-driven rules when
        due; the collection list when its membership changed."""
        served = Served()
        due = now_s >= self._next_evaluation_s
        if not (due or self._bin_readings or self._water_readings):
            return served  # most batches: nothing of the services' in them
        offset_s = self.utc_offset_s(now_s)
        touched_bins = self._step_bins(served, offset_s, now_s)
        self._step_water(served, offset_s, now_s)
        if due:
            self._next_evaluation_s = now_s + EVALUATE_S
            self._evaluate(served, now_s, offset_s)
            touched_bins = True
        if touched_bins and self.bins.size:
            self._due_list(served, now_s)
        return served

    def _step_bins(self, served: Served, offset_s: float, now_s: float) -> bool:
        if not self._bin_readings:
            return False
        batch = bin_batch(self.bins, self._bin_readings)
        self._bin_readings = []
        changes, events = step_bins(self.bin_state, self.bin_rules, batch, offset_s)
        self._take(served, self.bins, changes, events)
        served.rows += persist.state_rows("bins", self.bin_state, self.bins.ids, batch.index, now_s)
        return True

    def _step_water(self, served: Served, offset_s: float, now_s: float) -> None:
        if not self._water_readings:
            return
        batch = water_batch(self.meters, self._water_readings)
        self._water_readings = []
        changes, events = step_water(self.water_state, self.water_rules, batch, offset_s)
        self._take(served, self.meters, changes, events)
        served.rows += persist.state_rows(
            "water", self._meters_stored, self.meters.ids, batch.index, now_s
        )

    def _evaluate(self, served: Served, now_s: float, offset_s: float) -> None:
        bin_changes = evaluate_bins(self.bin_state, self.bin_rules, now_s, offset_s)
        water_changes = evaluate_water(self.water_state, self.water_rules, now_s, offset_s)
        self._take(served, self.bins, bin_changes, [])
        self._take(served, self.meters, water_changes, [])
        for room, state, fleet, changes in (
            ("bins", self.bin_state, self.bins, bin_changes),
            ("water", self._meters_stored, self.meters, water_changes),
        ):
            indexes = np.array([c.index for c in changes], dtype=np.int64)
            served.rows += persist.state_rows(room, state, fleet.ids, indexes, now_s)

    def _take(
        self, served: Served, fleet: Fleet, changes: list[Change], events: list[Event]
    ) -> None:
        for change in map(self._costed, changes):
            message = alert_message(change, fleet, self.topics)
            served.messages.append(message)
            served.rows.append(alert_row(change, fleet))
            if change.active:
                self.active[message.topic] = message
            else:
                self.active.pop(message.topic, None)
            body = message.payload if change.active else ""
            served.rows.append(state_row(ALERTS_ROOM, message.topic, change.at_s, body))
            device = fleet.ids[change.index]
            served.alerts.append((change.kind, device, change.since_s, change.at_s, change.active))
        for item in events:
            served.rows.append(event_row(item, fleet))
            if item.kind == "bin_emptied":
                served.emptyings.append((fleet.ids[item.index], item.at_s))

    def _costed(self, change: Change) -> Change:
        """A leak's change with what its volume costs at the site's price (none at 0)."""
        price = self.site.water.price_per_m3
        volume = change.details.get("volume_m3")
        if change.kind != "water_leak" or volume is None or price <= 0:
            return change
        return replace(change, details={**change.details, "cost": volume * price})

    def forecasts_s(self, now_s: float) -> list[float]:
        """Each bin's forecast full time (NaN: none), in `bins.ids` order."""
        offset_s = self.utc_offset_s(now_s)
        forecast = self.bin_state.forecast_full_s(self.bin_rules, now_s, offset_s)
        return [float(value) for value in forecast]

    def next_rounds_s(self, now_s: float) -> list[float]:
        """Each bin's next scheduled collection day after today, as the epoch second of its
        local midnight (NaN: a bin without collection days)."""
        today = datetime.fromtimestamp(now_s, self.zone).date()
        starts = [
            datetime.combine(today + timedelta(days=d), time(), self.zone).timestamp()
            for d in range(1, 8)
        ]
        weekdays = [(today.weekday() + d) % 7 for d in range(1, 8)]
        days = self.bin_rules.collection_days[:, weekdays]  # [bins, the next 7 days]
        first = np.argmax(days, axis=1)
        found = np.where(days.any(axis=1), np.array(starts)[first], np.nan)
        return [float(value) for value in found]

    def due(self, now_s: float, within_s: float | None = None) -> list[DueBin]:
        """The collection list now (horizon: the policy's `bins.due_within_s` by default)."""
        horizon_s = self.policy.bins.due_within_s if within_s is None else within_s
        state = self.bin_state
        return due_bins(
            self.bins,
            fill=[float(value) for value in state.fill],
            full=[bool(value) for value in state.full],
            forecast_s=self.forecasts_s(now_s),
            next_round_s=self.next_rounds_s(now_s),
            now_s=now_s,
            within_s=horizon_s,
            round_margin=self.policy.bins.round_margin,
        )

    def due_message(self, now_s: float, due: list[DueBin] | None = None) -> Message:
        listed = self.due(now_s) if due is None else due
        body = {
            "ts": now_s,
            "within_s": self.policy.bins.due_within_s,
            "urgent": [d.as_dict() for d in listed if d.urgency == "urgent"],
            "on_the_way": [d.as_dict() for d in listed if d.urgency == "on_the_way"],
        }
        return Message(self.topics.bins_due, json.dumps(body, allow_nan=False), retain=True)

    def _due_list(self, served: Served, now_s: float) -> None:
        listed = self.due(now_s)
        members = tuple((d.device, d.urgency) for d in listed)
        if members != self._due_members:
            self._due_members = members
            served.messages.append(self.due_message(now_s, listed))

    def leaks(self, now_s: float) -> list[ActiveLeak]:
        """The active leaks now, longest first."""
        state = self.water_state
        volume = state.leak_volume_m3(now_s)
        price = self.site.water.price_per_m3
        found = [
            ActiveLeak(
                device,
                self.meters.devices[i].segment,
                float(state.leak_since_s[i]),
                float(state.leak_rate_m3h[i]),
                float(volume[i]),
                float(volume[i]) * price if price > 0 else None,
                self.site.water.currency,
            )
            for i, device in enumerate(self.meters.ids)
            if state.leak_active[i]
        ]
        return sorted(found, key=lambda leak: (leak.since_s, leak.device))

    def restore(self, stored: dict[str, dict[str, str]]) -> int:
        """The state read back from the spool (room → key → body); devices restored."""
        count = persist.restore("bins", self.bin_state, self.bins.positions, stored.get("bins", {}))
        count += persist.restore(
            "water", self._meters_stored, self.meters.positions, stored.get("water", {})
        )
        known = self.bins.positions.keys() | self.meters.positions.keys()
        for topic, body in stored.get(ALERTS_ROOM, {}).items():
            if body and topic.rsplit("/", 1)[-1] in known:  # not of a device since removed
                self.active[topic] = Message(topic, body, retain=True)
        return count

    def meter_indexes(self) -> dict[str, tuple[float, float]]:
        """Each meter's last raw index and its time, as stored (for the intake's normaliser)."""
        found = self._meters_stored.indexes
        return {
            device: (float(found[i, 0]), float(found[i, 1]))
            for i, device in enumerate(self.meters.ids)
            if np.isfinite(found[i, 1])
        }

    def startup_messages(self, now_s: float) -> list[Message]:
        """Once connected: the active alerts again (same messages) and the collection list."""
        found = list(self.active.values())
        if self.bins.size:
            listed = self.due(now_s)
            self._due_members = tuple((d.device, d.urgency) for d in listed)
            found.append(self.due_message(now_s, listed))
        return found

    def carried_into(self, site: SiteConfig, policy: Policy) -> "CityServices":
        """The services of a reloaded site: every device still registered keeps its state."""
        new = CityServices(site, policy)
        stored = {
            "bins": _as_stored("bins", self.bin_state, self.bins),
            "water": _as_stored("water", self._meters_stored, self.meters),
            ALERTS_ROOM: {topic: message.payload for topic, message in self.active.items()},
        }
        new.restore(stored)
        new._due_members = self._due_members
        return new


def _as_stored(room: str, state: persist.Packable, fleet: Fleet) -> dict[str, str]:
    indexes = np.arange(fleet.size, dtype=np.int64)
    return {
        row.device_id: row.body for row in persist.state_rows(room, state, fleet.ids, indexes, 0.0)
    }
