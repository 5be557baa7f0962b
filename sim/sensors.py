"""Simulated sensors as payload factories: pedestrian counters, waste bins, water meters.

They only build messages (topic + JSON from `gateway.wire` models); `sim.devices` puts them on
the broker. Keeping the I/O out makes every payload checkable in a plain unit test.
"""

from dataclasses import dataclass, field

import numpy as np

from controllers.settings.site import Device, SiteConfig
from controllers.topology import IntArray, Topology
from gateway.topics import Topics
from gateway.wire import BinPayload, PedestrianPayload, WaterPayload
from sim.walkers import Entries

# Used when a bin's geometry is not in the registry: a typical 1.2 m deep street bin.
_DEFAULT_EMPTY_MM = 1200.0
_DEFAULT_FULL_MM = 150.0


@dataclass(frozen=True)
class Outgoing:
    """One MQTT message to publish."""

    topic: str
    payload: str
    qos: int = 1


@dataclass
class _Sequences:
    """Per-device sequence numbers, which the gateway uses to drop duplicates."""

    next_seq: dict[str, int] = field(default_factory=dict)

    def take(self, device_id: str) -> int:
        seq = self.next_seq.get(device_id, 0)
        self.next_seq[device_id] = seq + 1
        return seq


class PedestrianCounters:
    """One detection message per walker entering a counter's segment.

    A counter also says "nobody" (count 0 over the silent period) after `heartbeat_s` of
    silence, as real people counters report periodically: without it the gateway could not
    tell a quiet street at 4 am from a dead sensor, and would light it at the fail-safe level.
    """

    def __init__(self, site: SiteConfig, topology: Topology, heartbeat_s: float = 600.0) -> None:
        self._topics = Topics(site.broker.topic_prefix, site.site.id)
        found = [(d, topology.index_of(dev.segment)) for d, dev in _of_kind(site, "pedestrian")]
        self.device_ids = tuple(d for d, _ in found)
        self._segment = np.array([s for _, s in found], dtype=np.int64)
        self.counts = np.zeros(len(found), dtype=np.int64)
        self._last_sent_s = np.full(len(found), np.nan)
        self._size = topology.size
        self.heartbeat_s = heartbeat_s
        self._seq = _Sequences()

    def per_segment(self) -> IntArray:
        """Walkers counted so far by the counters of each segment."""
        return np.bincount(self._segment, weights=self.counts, minlength=self._size).astype(
            np.int64
        )

    def on_entries(self, entries: Entries) -> list[Outgoing]:
        """Detections for the entries that happened on a counter's segment, in time order."""
        # (entry, counter) pairs for every counter on the entered segment; usually one or none.
        entry, counter = np.nonzero(entries.segment[:, None] == self._segment[None, :])
        messages = []
        for e, c in zip(entry.tolist(), counter.tolist(), strict=True):
            direction = "forward" if entries.direction[e] > 0 else "backward"
            time_s = float(entries.time_s[e])
            messages.append(self._message(c, 1, 0.0, time_s, direction))
        return messages

    def heartbeats(self, now_s: float) -> list[Outgoing]:
        """Zero counts from counters that have been silent for `heartbeat_s`."""
        # A counter's silence is counted from the first time we look, not from the epoch.
        self._last_sent_s = np.where(np.isnan(self._last_sent_s), now_s, self._last_sent_s)
        silent = np.flatnonzero(now_s - self._last_sent_s >= self.heartbeat_s)
        return [
            self._message(int(c), 0, now_s - float(self._last_sent_s[c]), now_s, None)
            for c in silent
        ]

    def _message(
        self, counter: int, count: int, period_s: float, time_s: float, direction: str | None
    ) -> Outgoing:
        device_id = self.device_ids[counter]
        payload = PedestrianPayload.model_validate(
            {
                "count": count,
                "period_s": period_s,
                "direction": direction,
                "ts": time_s,
                "seq": self._seq.take(device_id),
            }
        )
        self.counts[counter] += count
        self._last_sent_s[counter] = np.fmax(self._last_sent_s[counter], time_s)  # NaN-safe
        topic = self._topics.sensor("pedestrian", device_id)
        return Outgoing(topic, payload.model_dump_json(exclude_none=True))


class PeriodicSensors:
    """Bins filling up and water meters counting, each reporting every `period_s` or so."""

    def __init__(self, site: SiteConfig, rng: np.random.Generator, period_s: float = 900.0) -> None:
        self._topics = Topics(site.broker.topic_prefix, site.site.id)
        self._rng = rng
        self.period_s = period_s
        self._bins = [(d, dev) for d, dev in _of_kind(site, "bin")]
        self._meters = [d for d, _ in _of_kind(site, "water")]
        self._fill_ratio = rng.uniform(0.05, 0.5, len(self._bins))
        self._fill_per_h = rng.uniform(0.005, 0.03, len(self._bins))
        self._total_m3 = rng.uniform(50.0, 3000.0, len(self._meters))
        devices = len(self._bins) + len(self._meters)
        self._next_due_s = np.full(devices, np.nan)  # NaN: not seen yet
        self._last_s = np.full(devices, np.nan)
        self._seq = _Sequences()

    def due(self, now_s: float) -> list[Outgoing]:
        """Reports of every device whose turn has come."""
        bins = len(self._bins)
        messages = [self._bin(i, now_s) for i in range(bins) if self._turn(i, now_s)]
        meters = range(len(self._meters))
        return messages + [self._water(i, now_s) for i in meters if self._turn(bins + i, now_s)]

    def _turn(self, device: int, now_s: float) -> bool:
        """Whether `device` reports now. The first report comes at a random moment of the first
        period, so that the devices do not all speak in the same second."""
        if np.isnan(self._next_due_s[device]):
            self._next_due_s[device] = now_s + self._rng.uniform(0.0, self.period_s)
            self._last_s[device] = now_s
        if now_s < self._next_due_s[device]:
            return False
        jitter_s = self._rng.uniform(-0.05, 0.05) * self.period_s
        self._next_due_s[device] = now_s + self.period_s + jitter_s
        return True

    def _elapsed_h(self, device: int, now_s: float) -> float:
        elapsed_h = (now_s - float(self._last_s[device])) / 3600.0
        self._last_s[device] = now_s
        return elapsed_h

    def _bin(self, index: int, now_s: float) -> Outgoing:
        device_id, device = self._bins[index]
        fill = self._fill_ratio[index] + self._fill_per_h[index] * self._elapsed_h(index, now_s)
        # The truck empties a bin that is nearly full.
        self._fill_ratio[index] = fill if fill < 0.95 else 0.05
        empty_mm = device.empty_distance_mm or _DEFAULT_EMPTY_MM
        full_mm = (
            device.full_distance_mm if device.full_distance_mm is not None else _DEFAULT_FULL_MM
        )
        noise_mm = self._rng.normal(0.0, 8.0)
        distance_mm = empty_mm - self._fill_ratio[index] * (empty_mm - full_mm) + noise_mm
        payload = BinPayload(
            ts=now_s,
            seq=self._seq.take(device_id),
            distance_mm=round(max(distance_mm, 0.0), 1),
            temperature_c=round(float(self._rng.normal(12.0, 1.5)), 1),
        )
        return Outgoing(
            self._topics.sensor("bin", device_id), payload.model_dump_json(exclude_none=True)
        )

    def _water(self, index: int, now_s: float) -> Outgoing:
        device_id = self._meters[index]
        # Night-time consumption of a small building: a few tens of litres an hour.
        flow_m3h = float(self._rng.gamma(2.0, 0.02))
        self._total_m3[index] += flow_m3h * self._elapsed_h(len(self._bins) + index, now_s)
        payload = WaterPayload(
            ts=now_s,
            seq=self._seq.take(device_id),
            total_m3=round(float(self._total_m3[index]), 4),
            flow_m3h=round(flow_m3h, 4),
        )
        return Outgoing(
            self._topics.sensor("water", device_id), payload.model_dump_json(exclude_none=True)
        )


def _of_kind(site: SiteConfig, kind: str) -> list[tuple[str, Device]]:
    return [(device_id, d) for device_id, d in site.devices.items() if d.kind == kind]
