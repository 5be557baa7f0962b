"""Simulated bins and water meters as payload factories, each reporting every `period_s` or so.

They only build messages (topic + JSON from `gateway.wire.payloads` models); `sim.devices.bus`
puts them on the broker. Keeping the I/O out makes every payload checkable in a plain unit test.

Bins fill at a rate of their own (a busy corner fills faster), faster on weekend days and by
day, and are emptied on their collection days at 06:00; the ultrasonic distance is noisy, and
now and then a bin is knocked over (tilt) or catches fire (temperature). Water meters follow a
household or a business day; some leak at night, a rare pipe bursts, a rare backflow runs the
index back; a register near its top rolls over, and a replaced meter starts again from zero.
"""

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from controllers.settings.site import Device, SiteConfig
from gateway.wire.payloads import BinPayload, WaterPayload
from gateway.wire.topics import Topics

# Used when a bin's geometry is not in the registry: a typical 1.2 m deep street bin.
_DEFAULT_EMPTY_MM = 1200.0
_DEFAULT_FULL_MM = 150.0
_WEEKDAY_FILL = (1.0, 1.0, 1.0, 1.1, 1.3, 1.5, 1.2)  # Monday first: weekends fill faster
_COLLECTION_HOUR = 6
# Flow by local hour as a share of the day's peak: a household (morning and evening) and a
# business (office hours, weekdays only).
_HOUSEHOLD = np.array([2, 1, 1, 1, 1, 3, 8, 10, 8, 5, 4, 4, 5, 4, 4, 4, 5, 7, 9, 10, 8, 6, 4, 3])
_BUSINESS = np.array([0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 9, 8, 9, 10, 9, 8, 5, 2, 1, 0, 0, 0, 0])
_REGISTER_M3 = 100_000.0  # a five-digit register rolls over here


@dataclass(frozen=True)
class Outgoing:
    """One MQTT message to publish; `send_s` is when the device sends it (after its latency),
    `device` who sends it (for dropout faults)."""

    topic: str
    payload: str | bytes
    qos: int = 1
    send_s: float = 0.0
    device: str = ""

    @property
    def body(self) -> bytes:
        return self.payload if isinstance(self.payload, bytes) else self.payload.encode()


@dataclass
class _Sequences:
    """Per-device sequence numbers, which the gateway uses to drop duplicates."""

    next_seq: dict[str, int] = field(default_factory=dict)

    def take(self, device_id: str) -> int:
        seq = self.next_seq.get(device_id, 0)
        self.next_seq[device_id] = seq + 1
        return seq


class PeriodicSensors:
    """Bins filling up and water meters counting, each reporting every `period_s` or so."""

    def __init__(self, site: SiteConfig, rng: np.random.Generator, period_s: float = 900.0) -> None:
        self._topics = Topics(site.broker.topic_prefix, site.site.id)
        self._zone = ZoneInfo(site.site.timezone)
        self._rng = rng
        self.period_s = period_s
        self._bins = [(d, dev) for d, dev in _of_kind(site, "bin")]
        self._meters = [d for d, _ in _of_kind(site, "water")]
        bins, meters = len(self._bins), len(self._meters)
        self._fill_ratio = rng.uniform(0.05, 0.5, bins)
        self._fill_per_h = rng.uniform(0.005, 0.03, bins)
        self._collection_days = [set(rng.choice(7, 2, replace=False).tolist()) for _ in range(bins)]
        self._tilted = np.zeros(bins, dtype=np.int64)  # reports left lying on its side
        self._total_m3 = rng.uniform(50.0, 3000.0, meters)
        # One meter in ten starts near the top of its register, to roll over.
        near_top = rng.random(meters) < 0.1
        self._total_m3[near_top] = _REGISTER_M3 - rng.uniform(0.05, 0.5, int(near_top.sum()))
        self._business = rng.random(meters) < 0.3
        self._peak_m3h = np.where(self._business, rng.uniform(0.5, 2.0, meters), 0.4)
        self._leak_m3h = np.where(rng.random(meters) < 0.1, rng.uniform(0.005, 0.05, meters), 0.0)
        devices = bins + meters
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

    def _elapsed(self, device: int, now_s: float) -> tuple[float, float]:
        """(previous report time, hours since then)."""
        last_s = float(self._last_s[device])
        self._last_s[device] = now_s
        return last_s, (now_s - last_s) / 3600.0

    def _bin(self, index: int, now_s: float) -> Outgoing:
        device = self._bins[index][1]
        last_s, elapsed_h = self._elapsed(index, now_s)
        local = datetime.fromtimestamp(now_s, self._zone)
        daytime = 1.5 if 8 <= local.hour < 22 else 0.5
        rate = self._fill_per_h[index] * _WEEKDAY_FILL[local.weekday()] * daytime
        fill = min(self._fill_ratio[index] + rate * elapsed_h, 1.0)  # an overflowing bin is full
        if self._collected(index, last_s, now_s):
            fill = float(self._rng.uniform(0.0, 0.05))
        self._fill_ratio[index] = fill
        return self._bin_message(index, device, fill, now_s)

    def _collected(self, index: int, last_s: float, now_s: float) -> bool:
        """Whether the truck passed (06:00 on a collection day) since the last report."""
        local = datetime.fromtimestamp(now_s, self._zone)
        today = local.replace(hour=_COLLECTION_HOUR, minute=0, second=0, microsecond=0)
        return (
            local.weekday() in self._collection_days[index] and last_s < today.timestamp() <= now_s
        )

    def _bin_message(self, index: int, device: Device, fill: float, now_s: float) -> Outgoing:
        device_id = self._bins[index][0]
        empty_mm = device.empty_distance_mm or _DEFAULT_EMPTY_MM
        full_mm = (
            device.full_distance_mm if device.full_distance_mm is not None else _DEFAULT_FULL_MM
        )
        noise_mm = self._rng.normal(0.0, 8.0)
        distance_mm = empty_mm - fill * (empty_mm - full_mm) + noise_mm
        if self._tilted[index] == 0 and self._rng.random() < 0.002:
            self._tilted[index] = 4  # knocked over until someone rights it, an hour later
        tilt = bool(self._tilted[index] > 0)
        self._tilted[index] = max(self._tilted[index] - 1, 0)
        fire = self._rng.random() < 0.0005
        temperature_c = self._rng.uniform(70.0, 95.0) if fire else self._rng.normal(12.0, 1.5)
        payload = BinPayload(
            ts=now_s,
            seq=self._seq.take(device_id),
            distance_mm=round(max(distance_mm, 0.0), 1),
            temperature_c=round(float(temperature_c), 1),
            tilt=True if tilt else None,
        )
        return Outgoing(
            self._topics.sensor("bin", device_id),
            payload.model_dump_json(exclude_none=True),
            send_s=now_s,
            device=device_id,
        )

    def _water(self, index: int, now_s: float) -> Outgoing:
        device_id = self._meters[index]
        _, elapsed_h = self._elapsed(len(self._bins) + index, now_s)
        flow_m3h, alarms = self._flow(index, now_s)
        total_m3 = self._total_m3[index] + flow_m3h * elapsed_h
        if self._rng.random() < 0.002:
            total_m3, alarms = max(total_m3 - self._rng.uniform(0.001, 0.01), 0.0), ["backflow"]
        if self._rng.random() < 0.0005:
            total_m3, alarms = 0.0, [*alarms, "replaced"]  # a new meter starts from zero
        self._total_m3[index] = total_m3 % _REGISTER_M3
        payload = WaterPayload(
            ts=now_s,
            seq=self._seq.take(device_id),
            total_m3=round(float(self._total_m3[index]), 4),
            flow_m3h=round(flow_m3h, 4),
            alarms=alarms,
        )
        return Outgoing(
            self._topics.sensor("water", device_id),
            payload.model_dump_json(exclude_none=True),
            send_s=now_s,
            device=device_id,
        )

    def _flow(self, index: int, now_s: float) -> tuple[float, list[str]]:
        """Flow now (m³/h) and its alarms: the day's profile, a leak, a rare burst."""
        local = datetime.fromtimestamp(now_s, self._zone)
        business = bool(self._business[index])
        profile = _BUSINESS if business else _HOUSEHOLD
        open_today = not business or local.weekday() < 5
        share = float(profile[local.hour]) / 10.0 if open_today else 0.0
        flow = float(self._peak_m3h[index]) * share * float(self._rng.gamma(2.0, 0.5))
        alarms: list[str] = []
        leak = float(self._leak_m3h[index])
        if leak > 0:
            flow += leak
            if 2 <= local.hour < 5:
                alarms.append("leak")  # a meter that never stops at night: a leak
        if self._rng.random() < 0.0005:
            flow += 3.0
            alarms.append("burst")
        return flow, alarms


def _of_kind(site: SiteConfig, kind: str) -> list[tuple[str, Device]]:
    return [(device_id, d) for device_id, d in site.devices.items() if d.kind == kind]
