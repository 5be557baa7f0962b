"""Simulated devices speak the wire contract: sensor payloads and lamp commands/state."""

import numpy as np

from controllers.settings import SiteConfig
from controllers.topology import Topology
from gateway.wire.payloads import (
    BinPayload,
    LampCommand,
    LampState,
    PedestrianPayload,
    WaterPayload,
)
from gateway.wire.topics import Topics
from sim.devices.bus import LampDevices, Outbox
from sim.devices.counters import PedestrianCounters
from sim.devices.lamps import SimLamps
from sim.devices.sensors import Outgoing, PeriodicSensors
from sim.world.walkers import Entries

T0_S = 1_736_982_000.0


class _FixedClock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def now(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.now_s += seconds


def _entries(topology: Topology, rows: list[tuple[int, str, int, float]]) -> Entries:
    return Entries(
        np.array([w for w, _, _, _ in rows], dtype=np.int64),
        np.array([topology.index_of(s) for _, s, _, _ in rows], dtype=np.int64),
        np.array([d for _, _, d, _ in rows], dtype=np.int64),
        np.array([t for _, _, _, t in rows], dtype=np.float64),
    )


def _lamp_devices(site: SiteConfig, topology: Topology) -> tuple[LampDevices, Outbox]:
    outbox = Outbox()
    topics = Topics(site.broker.topic_prefix, site.site.id)
    devices = LampDevices(SimLamps(topology), topology, topics, _FixedClock(T0_S), outbox)
    return devices, outbox


def _drain(outbox: Outbox) -> list[Outgoing]:
    queue = outbox._queue  # noqa: SLF001  (reads what a publisher task would send)
    return [queue.get_nowait() for _ in range(queue.qsize())]


def test_counter_publishes_one_detection_per_entry(
    tiny_site: SiteConfig, tiny_topology: Topology
) -> None:
    """Entries on a counter's segment become valid detections with per-device sequence
    numbers; entries elsewhere say nothing."""
    counters = PedestrianCounters(tiny_site, tiny_topology)
    entries = _entries(
        tiny_topology,
        [(0, "a-1", 1, T0_S + 1), (1, "a-2", 1, T0_S + 2), (2, "a-1", -1, T0_S + 3)],
    )
    messages = counters.on_entries(entries)
    assert [m.topic for m in messages] == ["luciole/tiny/sensor/pedestrian/ped-a1"] * 2
    payloads = [PedestrianPayload.model_validate_json(m.payload) for m in messages]
    assert [(p.count, p.period_s, p.direction, p.seq) for p in payloads] == [
        (1, 0, "forward", 0),
        (1, 0, "backward", 1),
    ]
    assert [p.ts for p in payloads] == [T0_S + 1, T0_S + 3]
    assert all(m.qos == 1 for m in messages)
    assert counters.per_segment()[tiny_topology.index_of("a-1")] == 2


def test_silent_counter_sends_a_zero_count(tiny_site: SiteConfig, tiny_topology: Topology) -> None:
    """After `heartbeat_s` without walkers a counter reports count 0 over the silent period."""
    counters = PedestrianCounters(tiny_site, tiny_topology, heartbeat_s=600.0)
    assert counters.heartbeats(T0_S) == []
    counters.on_entries(_entries(tiny_topology, [(0, "a-3", 1, T0_S + 100)]))
    messages = counters.heartbeats(T0_S + 600.0)
    devices = sorted(m.topic.rsplit("/", 1)[1] for m in messages)
    assert devices == ["ped-a1", "ped-b2"]  # ped-a3 spoke 500 s ago
    payload = PedestrianPayload.model_validate_json(messages[0].payload)
    assert (payload.count, payload.period_s) == (0, 600.0)


def test_bins_and_meters_report_valid_payloads(tiny_site: SiteConfig) -> None:
    """Every report validates against the wire models; bins stay within their geometry and
    the water index never goes back."""
    sensors = PeriodicSensors(tiny_site, np.random.default_rng(1), period_s=900.0)
    bins: list[BinPayload] = []
    meters: list[WaterPayload] = []
    for minute in range(0, 12 * 60, 5):
        for message in sensors.due(T0_S + minute * 60.0):
            kind = message.topic.split("/")[-2]
            if kind == "bin":
                bins.append(BinPayload.model_validate_json(message.payload))
            else:
                meters.append(WaterPayload.model_validate_json(message.payload))
    assert 40 <= len(bins) <= 52 and 40 <= len(meters) <= 52  # every ~15 min for 12 h
    assert all(b.distance_mm is not None and 50 <= b.distance_mm <= 1050 for b in bins)
    totals = [m.total_m3 for m in meters]
    assert totals == sorted(totals) and totals[-1] > totals[0]
    assert [m.seq for m in meters] == list(range(len(meters)))


def test_lamp_applies_a_valid_command(tiny_site: SiteConfig, tiny_topology: Topology) -> None:
    """A valid command on a segment's set topic drives that segment's lamp."""
    devices, _ = _lamp_devices(tiny_site, tiny_topology)
    command = LampCommand(level=0.8, ramp_s=0.0, reason="presence", seq=1, ts=T0_S)
    topic = "luciole/tiny/lamp/b-2/set"
    report = devices.handle(topic, command.model_dump_json().encode(), T0_S)
    assert report is not None
    assert (tiny_topology.ids[report.segment], report.level) == ("b-2", 0.8)
    assert devices.lamps.level(T0_S)[tiny_topology.index_of("b-2")] == 0.8


def test_lamp_state_message_is_a_valid_lamp_state(
    tiny_site: SiteConfig, tiny_topology: Topology
) -> None:
    """The state message goes to the segment's state topic and parses as LampState."""
    devices, _ = _lamp_devices(tiny_site, tiny_topology)
    report = devices.lamps.command(tiny_topology.index_of("a-4"), 0.5, 0.0, T0_S)
    message = devices.state_message(report, T0_S)
    state = LampState.model_validate_json(message.payload)
    assert message.topic == "luciole/tiny/lamp/a-4/state"
    assert (state.level, state.status, state.ts) == (0.5, "ok", T0_S)
    assert state.power_w == 50.0


def test_bad_lamp_commands_are_counted_not_applied(
    tiny_site: SiteConfig, tiny_topology: Topology
) -> None:
    """Garbage, out-of-range levels and unknown segments are rejected and counted."""
    devices, _ = _lamp_devices(tiny_site, tiny_topology)
    good = LampCommand(level=1.0, ramp_s=0, reason="schedule", seq=1, ts=T0_S).model_dump_json()
    assert devices.handle("luciole/tiny/lamp/a-1/set", b"{not json", T0_S) is None
    assert devices.handle("luciole/tiny/lamp/a-1/set", b'{"level": 2}', T0_S) is None
    assert devices.handle("luciole/tiny/lamp/zz/set", good.encode(), T0_S) is None
    assert devices.rejected == 3
    assert devices.lamps.commands == 0


def test_watchdog_fallback_is_announced(tiny_site: SiteConfig, tiny_topology: Topology) -> None:
    """A lamp falling back publishes its state with status `fallback`."""
    devices, outbox = _lamp_devices(tiny_site, tiny_topology)
    devices.lamps.command(0, 0.3, 0.0, T0_S)
    devices.watchdog(T0_S + 901.0)
    (message,) = _drain(outbox)
    state = LampState.model_validate_json(message.payload)
    assert (state.status, state.level) == ("fallback", 1.0)
    assert message.topic == f"luciole/tiny/lamp/{tiny_topology.ids[0]}/state"


def test_outbox_drops_and_counts_when_full() -> None:
    """A full outbox never blocks the simulation: extra messages are dropped and counted."""
    outbox = Outbox(capacity=2)
    outbox.offer(Outgoing(f"t/{i}", "{}") for i in range(5))
    assert outbox.dropped == 3
    assert [m.topic for m in _drain(outbox)] == ["t/0", "t/1"]
