"""Pedestrian counters: what real ones see of the walkers, and when they say it.

A counter on a segment detects the walkers entering it, misses some (`miss_rate`), sees some
who are not there (`false_per_h`), and reports each detection after a latency (processing,
radio), or totals per period. A silent counter still says "nobody" every `heartbeat_s`, as
real ones do, so a quiet street is not taken for a dead sensor. Detections are arrays; only
the messages are built one by one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controllers.settings.site import SiteConfig
from controllers.topology import FloatArray, IntArray, Topology
from gateway.wire.topics import Topics
from sim.devices.encoders import CountReport, Encoder
from sim.devices.sensors import Outgoing
from sim.world.scenario import WireFormat
from sim.world.walkers import Entries


@dataclass(frozen=True)
class CounterSpec:
    """One counter as the simulator runs it (defaults: a perfect, instant, native counter)."""

    device_id: str
    segment: str
    network_id: str | None = None
    format: WireFormat = "native"
    report: str = "event"
    period_s: float = 60.0
    latency_s: tuple[float, float] = (0.0, 0.0)
    miss_rate: float = 0.0
    false_per_h: float = 0.0
    knows_direction: bool = True
    heartbeat_s: float = 600.0


def site_counters(site: SiteConfig, heartbeat_s: float = 600.0) -> list[CounterSpec]:
    """Perfect native counters for the pedestrian devices of a site file."""
    return [
        CounterSpec(device_id, device.segment, heartbeat_s=heartbeat_s)
        for device_id, device in site.devices.items()
        if device.kind == "pedestrian"
    ]


class PedestrianCounters:
    """Every counter of the site, as arrays; `on_entries` and `due` produce their messages."""

    def __init__(
        self,
        site: SiteConfig,
        topology: Topology,
        heartbeat_s: float = 600.0,
        specs: Sequence[CounterSpec] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.specs = tuple(specs if specs is not None else site_counters(site, heartbeat_s))
        self._encoder = Encoder(Topics(site.broker.topic_prefix, site.site.id))
        self._rng = rng or np.random.default_rng(0)
        self.device_ids = tuple(s.device_id for s in self.specs)
        self._segment = np.array([topology.index_of(s.segment) for s in self.specs], np.int64)
        self._miss = np.array([s.miss_rate for s in self.specs])
        self._false_per_h = np.array([s.false_per_h for s in self.specs])
        self._latency = np.array([s.latency_s for s in self.specs]).reshape(-1, 2)
        self._period = np.array([s.report == "period" for s in self.specs], dtype=np.bool_)
        self._heartbeat_s = np.array([s.heartbeat_s for s in self.specs])
        self.counts = np.zeros(len(self.specs), dtype=np.int64)  # walkers reported so far
        self.detected = np.zeros(len(self.specs), dtype=np.int64)  # true detections so far
        self._pending = np.zeros((len(self.specs), 3), dtype=np.int64)  # fwd, bwd, unknown
        self._period_start_s = np.full(len(self.specs), np.nan)
        self._last_sent_s = np.full(len(self.specs), np.nan)
        self._size = topology.size
        self._seq = np.zeros(len(self.specs), dtype=np.int64)
        self._sent_at_s = np.full(len(self.specs), -np.inf)

    def per_segment(self) -> IntArray:
        """Walkers counted so far by the counters of each segment."""
        return np.bincount(self._segment, weights=self.counts, minlength=self._size).astype(
            np.int64
        )

    def on_entries(self, entries: Entries) -> list[Outgoing]:
        """Detections of the entries on a counter's segment (missed ones dropped), in time
        order; per-period counters only add them to their period."""
        entry, counter = np.nonzero(entries.segment[:, None] == self._segment[None, :])
        seen = self._rng.random(len(entry)) >= self._miss[counter]
        entry, counter = entry[seen], counter[seen]
        np.add.at(self.detected, counter, 1)
        return self._detections(counter, entries.direction[entry], entries.time_s[entry])

    def false_triggers(self, now_s: float, dt_s: float) -> list[Outgoing]:
        """Detections of nobody (a dog, a reflection), Poisson at `false_per_h`."""
        expected = self._false_per_h * max(dt_s, 0.0) / 3600
        counter = np.repeat(np.arange(len(self.specs)), self._rng.poisson(expected))
        direction = self._rng.choice(np.array([1, -1], dtype=np.int64), len(counter))
        time_s = now_s - self._rng.uniform(0.0, max(dt_s, 0.0), len(counter))
        order = np.argsort(time_s, kind="stable")
        return self._detections(counter[order], direction[order], time_s[order])

    def due(self, now_s: float) -> list[Outgoing]:
        """Period totals whose period ended, and zero counts from silent event counters."""
        return self._periods(now_s) + self.heartbeats(now_s)

    def heartbeats(self, now_s: float) -> list[Outgoing]:
        """Zero counts from event counters that have been silent for their `heartbeat_s`."""
        # A counter's silence is counted from the first time we look, not from the epoch. A
        # LoRaWAN counter sends its running totals at power-on: the gateway's baseline.
        new = [int(c) for c in np.flatnonzero(np.isnan(self._last_sent_s))]
        self._last_sent_s = np.where(np.isnan(self._last_sent_s), now_s, self._last_sent_s)
        booted = [
            self._report(c, (0, 0, 0), 0.0, now_s, now_s)
            for c in new
            if self.specs[c].format in ("chirpstack", "tts")
        ]
        silent = np.flatnonzero(~self._period & (now_s - self._last_sent_s >= self._heartbeat_s))
        return booted + [
            self._report(int(c), (0, 0, 0), now_s - float(self._last_sent_s[c]), now_s, now_s)
            for c in silent
        ]

    def _detections(
        self, counter: IntArray, direction: IntArray, time_s: FloatArray
    ) -> list[Outgoing]:
        knows = np.array([self.specs[c].knows_direction for c in counter], dtype=np.bool_)
        column = np.where(knows, np.where(direction > 0, 0, 1), 2)
        periodic = self._period[counter]
        np.add.at(self._pending, (counter[periodic], column[periodic]), 1)
        low, high = self._latency[counter, 0], self._latency[counter, 1]
        send_s = time_s + self._rng.uniform(0.0, 1.0, len(counter)) * (high - low) + low
        messages = []
        for c, col, t, s in zip(
            counter[~periodic].tolist(),
            column[~periodic].tolist(),
            time_s[~periodic].tolist(),
            send_s[~periodic].tolist(),
            strict=True,
        ):
            counts = [0, 0, 0]
            counts[col] = 1
            messages.append(self._report(c, (counts[0], counts[1], counts[2]), 0.0, t, s))
        return messages

    def _periods(self, now_s: float) -> list[Outgoing]:
        start = np.where(np.isnan(self._period_start_s), now_s, self._period_start_s)
        self._period_start_s = start
        period_s = np.array([s.period_s for s in self.specs])
        ended = np.flatnonzero(self._period & (now_s - start >= period_s))
        messages = []
        for c in ended.tolist():
            end_s = float(start[c] + period_s[c])
            latency = self._rng.uniform(*self._latency[c])
            fwd, bwd, unknown = (int(v) for v in self._pending[c])
            self._pending[c] = 0
            self._period_start_s[c] = end_s
            messages += self._split(c, (fwd, bwd, unknown), float(period_s[c]), end_s, latency)
        return messages

    def _split(
        self, c: int, counts: tuple[int, int, int], period_s: float, end_s: float, latency: float
    ) -> list[Outgoing]:
        """Native payloads carry one direction, so a native period total is one per direction."""
        if self.specs[c].format != "native" or sum(counts) == 0:
            return [self._report(c, counts, period_s, end_s, end_s + latency)]
        parts = [tuple(v if i == j else 0 for j, v in enumerate(counts)) for i in range(3)]
        return [
            self._report(c, (p[0], p[1], p[2]), period_s, end_s, end_s + latency)
            for p in parts
            if sum(p)
        ]

    def _report(
        self, c: int, counts: tuple[int, int, int], period_s: float, ts_s: float, send_s: float
    ) -> Outgoing:
        spec = self.specs[c]
        # One device's messages leave in the order it made them: latency varies, order holds.
        send_s = max(send_s, float(self._sent_at_s[c]))
        self._sent_at_s[c] = send_s
        seq = int(self._seq[c])
        self._seq[c] += 1
        report = CountReport(
            spec.device_id, spec.network_id or spec.device_id, *counts, period_s, ts_s, seq
        )
        topic, payload = self._encoder.encode(spec.format, report)
        self.counts[c] += sum(counts)
        self._last_sent_s[c] = np.fmax(self._last_sent_s[c], ts_s)  # NaN-safe
        return Outgoing(topic, payload, qos=1, send_s=send_s, device=spec.device_id)
