"""Live mode against a real broker and the real daemon: a recorded night replayed offline gives
the daemon's commands, and the daemon survives every fault a scenario can switch on."""

import asyncio
import functools
import io
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pytest

from controllers.settings import Policy, SiteConfig
from controllers.settings.site import BrokerSettings, InfluxSettings
from gateway.config import Settings
from gateway.daemon import Daemon
from gateway.mqtt.recorder import Recorder, replay_to_broker
from gateway.wire.clock import Clock
from gateway.wire.payloads import LampCommand
from gateway.wire.topics import Topics
from gateway.wire.trace import Record, parse_record
from sim.runs.demo import DemoOptions, DemoResult, run_demo
from sim.runs.offline import Command
from sim.runs.replay import replay_offline
from sim.runs.run import Loaded, load
from tests.conftest import BrokerInfo, Embedded, Mosquitto, Victoria, new_broker

GUARD_S = 120.0
PRESENCE = {"hold_s": 40, "lookahead_segments": 2, "ramp_down_s": 2}
LAYERS = {
    "presence": PRESENCE,
    "schedule": {"night_level": 0.3},
    "failsafe": {"stale_after_s": 120},
}
POLICY = Policy.model_validate(LAYERS)
# Only level changes go on the wire, plus a refresh (every 300 s by default). In this night a
# walker reaches a counter every 15 to 40 s: with `hold_s` 40 the lamps it drives stay raised
# for minutes and nothing is due. The fault tests ask for a refresh they can count on instead.
REFRESH_S = 20.0
REFRESHING = Policy.model_validate({**LAYERS, "commands": {"refresh_s": REFRESH_S}})
# The shipped policy's layers: zones between the two direction-aware counters, learnt speeds.
OCCUPANCY = Policy.model_validate(
    {**LAYERS, "presence": {**PRESENCE, "occupancy": True, "learn_speeds": True}}
)


def _scenario(tmp_path: Path, faults: str = "{}", counters: str = "") -> Loaded:
    """One street of six segments in Angers, two counters, a busy night; a site id of its own
    so that no other test's messages reach it."""
    site_id = f"live-{uuid.uuid4().hex[:8]}"
    counters = counters or (
        "  - {id: c1, segment: a-01, latency_s: [0.1, 0.5], heartbeat_s: 60}\n"
        "  - {id: c4, segment: a-04, latency_s: [0.1, 0.5], format: chirpstack, heartbeat_s: 60}\n"
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"name: {site_id}\nnight: {{date: 2025-01-15}}\n"
        f"place: {{id: {site_id}, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}}\n"
        "streets:\n  - {id: a, start: [47.4700, -0.5500], end: [47.4700, -0.5476],"
        " segment_length_m: 30, rated_power_w: 50, rate_per_h: [120] }\n".replace(
            "[120]", "[" + ", ".join(["240"] * 24) + "]"
        )
        + f"counters:\n{counters}faults: {faults}\nbins: 1\nwater_meters: 1\n"
    )
    return load(path)


@dataclass
class _Gateway:
    """Starts the real daemon on the run's clock and keeps it to look at afterwards."""

    settings: Settings
    daemon: Daemon | None = None

    async def __call__(self, clock: Clock) -> None:
        self.daemon = Daemon(self.settings, clock)
        await self.daemon.run()


def _settings(site: SiteConfig, policy: Policy, folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(site, policy, folder / "site.yaml", folder / "policy.yaml")


def _on(site: SiteConfig, broker: BrokerInfo, extra: dict[str, Any] | None = None) -> SiteConfig:
    settings = BrokerSettings(url=broker.url, client_id=f"gw-{site.site.id}")
    return site.model_copy(update={"broker": settings, **(extra or {})})


async def _night(
    loaded: Loaded,
    site: SiteConfig,
    tmp_path: Path,
    *,
    minutes: float = 6,
    speed: float = 20,
    policy: Policy = POLICY,
    **switches: Any,
) -> tuple[DemoResult, Daemon]:
    """`minutes` of the middle of the night, live at `speed`, against the real daemon."""
    middle = (loaded.start_s + loaded.end_s) / 2
    gateway = _Gateway(_settings(site, policy, tmp_path / "gw"))
    options = DemoOptions(
        out_dir=tmp_path / "out",
        speed=speed,
        seed=4,
        live=False,
        world=loaded.world,
        window=(middle, middle + minutes * 60),
        **switches,
    )
    async with asyncio.timeout(GUARD_S):
        result = await run_demo(site, policy, options, gateway)
    assert gateway.daemon is not None
    return result, gateway.daemon


# A recorder hears each message a moment before or after the daemon does: 0.6 simulated
# seconds apart were seen at 15 times the speed on a loaded box; a quarter of a second of
# wall time is allowed.
RECORD_SPEED = 15.0
HEARD_APART_S = 0.25 * RECORD_SPEED


def _state(command: Command) -> tuple[float, str]:
    """What a command asks for, whenever it was sent."""
    return command.level, command.reason


def _changes(commands: list[Command]) -> dict[str, list[Command]]:
    """Each segment's level changes in time order (refreshes left out)."""
    by_segment: dict[str, list[Command]] = defaultdict(list)
    for command in sorted(commands, key=lambda c: c.time_s):
        seen = by_segment[command.segment]
        if not seen or _state(seen[-1]) != _state(command):
            seen.append(command)
    return by_segment


def _agree(a: list[Command], b: list[Command], unsure_s: float, end_s: float) -> bool:
    """Whether two sequences of changes agree, but for what their timing cannot settle.

    A hold that ends as the next walker is heard blinks (down, then up within `unsure_s`)
    where a tick fell between the two, and a trace records no tick, nor when the daemon
    heard the walker; and a change in the last `unsure_s` of the trace may have been
    recorded on one side only. Either may be on one side and not on the other.
    """

    def blink(c: list[Command], k: int) -> bool:
        undone = 0 < k < len(c) - 1 and _state(c[k + 1]) == _state(c[k - 1])
        return undone and c[k + 1].time_s - c[k].time_s <= unsure_s

    def late(c: list[Command], k: int) -> bool:
        return k == len(c) - 1 and c[k].time_s >= end_s - unsure_s

    @functools.cache
    def fits(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        both = i < len(a) and j < len(b) and _state(a[i]) == _state(b[j])
        return (
            (both and fits(i + 1, j + 1))
            or (blink(a, i) and fits(i + 2, j))
            or (blink(b, j) and fits(i, j + 2))
            or (late(a, i) and fits(i + 1, j))
            or (late(b, j) and fits(i, j + 1))
        )

    return fits(0, 0)


def _show(changes: list[Command]) -> list[tuple[float, float, str]]:
    """Changes as a failure shows them."""
    return [(round(c.time_s, 1), c.level, c.reason) for c in changes]


@pytest.mark.parametrize("policy", [POLICY, OCCUPANCY], ids=["presence", "occupancy"])
async def test_recorded_live_night_replayed_offline_gives_the_same_commands(
    broker: BrokerInfo, tmp_path: Path, policy: Policy
) -> None:
    """Record what the live daemon receives and sends; replaying the recording through the
    offline pipeline gives the same level changes on every segment, but for what a trace
    cannot time: under the presence rule and under zone occupancy with learnt speeds."""
    loaded = _scenario(tmp_path)
    site = _on(loaded.world.site, broker)
    trace = io.StringIO()

    async def record(clock: Clock) -> None:
        client = aiomqtt.Client(broker.host, broker.port, identifier=f"rec-{site.site.id}")
        async with client:
            await Recorder(site, clock, trace).run(client)
            await asyncio.Event().wait()

    result, _ = await _night(
        loaded, site, tmp_path, minutes=5, speed=RECORD_SPEED, companions=(record,), policy=policy
    )
    lines = trace.getvalue().splitlines()
    records = [parse_record(line, f"trace:{n}") for n, line in enumerate(lines[1:], 2)]
    # The daemon hears nothing before it subscribes, and its first words are its first tick's
    # commands: what was recorded before them never reached it.
    first = next(i for i, r in enumerate(records) if r.topic.endswith("/set"))
    replayed = replay_offline(records[first:], site, policy)
    assert replayed.messages > 10 and len(replayed.recorded) > 10
    unsure_s, end_s = site.tick_s + HEARD_APART_S, records[-1].t
    mine, theirs = _changes(replayed.commands), _changes(replayed.recorded)
    differ = {
        segment: (_show(mine[segment]), _show(theirs[segment]))
        for segment in sorted(set(mine) | set(theirs))
        if not _agree(mine[segment], theirs[segment], unsure_s, end_s)
    }
    assert not differ, differ
    assert sum(map(len, theirs.values())) >= 10, theirs
    assert result.summary["walkers"] > 5
    layer = "occupancy" if policy is OCCUPANCY else "presence"
    assert any(c.reason == layer for c in replayed.recorded), "the layer under test decided"


def _told(
    site: SiteConfig, broker: BrokerInfo, heard: set[tuple[str, str]]
) -> Callable[[Clock], Awaitable[None]]:
    """A companion of the run that notes each (segment, reason) the lamps are told."""
    topics = Topics(site.broker.topic_prefix, site.site.id)

    async def listen(clock: Clock) -> None:
        client = aiomqtt.Client(broker.host, broker.port, identifier=f"told-{site.site.id}")
        async with client:
            await client.subscribe(topics.lamp_set("+"), qos=1)
            async for message in client.messages:
                segment = topics.parse_lamp_set(message.topic.value)
                command = LampCommand.model_validate_json(bytes(message.payload))
                heard.add((str(segment), command.reason))

    return listen


MESSAGE_FAULTS = {
    "dropout": "{dropout: [{at_s: 30, for_s: 200, devices: [c4]}]}",
    "duplicates": "{duplicates: 0.3}",
    "reordering": "{reorder: 0.3, reorder_s: 5}",
    "malformed": "{malformed: 0.2}",
    "clock_skew": "{clock_skew_s: 900}",
}


@pytest.mark.parametrize("fault", sorted(MESSAGE_FAULTS))
async def test_the_daemon_survives_message_faults(
    broker: BrokerInfo, tmp_path: Path, fault: str
) -> None:
    """With the fault on, the daemon keeps accepting readings and refreshing every lamp to
    the end of the run, and the fault shows where it should."""
    loaded = _scenario(tmp_path, MESSAGE_FAULTS[fault])
    site = _on(loaded.world.site, broker)
    heard: set[tuple[str, str]] = set()
    result, daemon = await _night(
        loaded,
        site,
        tmp_path,
        minutes=4,
        speed=30,
        policy=REFRESHING,
        companions=(_told(site, broker, heard),),
    )
    stats = daemon.stats
    assert stats["accepted"] > 10 and stats["commands"] > 10
    district = result.district
    assert district is not None
    # Refreshed within five periods of the end: the four beyond the period are 80 simulated
    # seconds, 2.7 s of wall time at this speed, where a loaded box delayed the event loop by
    # 0.08 s at worst; a daemon that stopped at the fault (30 s) or at the failsafe (120 s)
    # of the 240 s run is still caught.
    assert np.nanmin(district.lamps.last_command_s) > district.end_s - 5 * REFRESH_S
    counted = district.faults.counts
    if fault == "dropout":
        assert counted["dropped"] > 0
        # Only c4's segment went silent for long enough (200 s, stale after 120 s). What the
        # lamps were told, not the energy report: its failsafe excess counts only while the
        # segment is empty, and walkers may fill it for the whole failsafe.
        assert {segment for segment, reason in heard if reason == "failsafe"} == {"a-04"}, heard
    elif fault == "duplicates":
        assert counted["duplicated"] > 0 and stats["duplicates"] > 0
    elif fault == "reordering":
        assert counted["reordered"] > 0
    elif fault == "malformed":
        rejected = sum(v for k, v in stats.items() if k.startswith("rejected_"))
        assert counted["malformed"] > 0 and rejected >= counted["malformed"] // 2
        assert (tmp_path / "gw" / site.deadletter_path).read_text().count("\n") == rejected
    else:
        assert counted["skewed"] > 0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto | Embedded]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    server = new_broker(workdir)
    server.start()
    yield server
    server.stop()


async def test_the_daemon_survives_a_broker_outage(
    own_broker: Mosquitto | Embedded, tmp_path: Path
) -> None:
    """The broker goes away for a simulated minute: the daemon and the devices reconnect and
    lamps are commanded again after it is back."""
    loaded = _scenario(tmp_path, "{broker_outage: [{at_s: 60, for_s: 60}]}")
    site = _on(loaded.world.site, own_broker.info)
    # The daemon backs off in wall-clock seconds: it is back at most 6 s after the broker
    # left (by its fourth try, or its first after a 5 s wait for acknowledgements the lost
    # link never brings), by 240 simulated seconds at this speed; 6 minutes leave 4 s more.
    result, daemon = await _night(
        loaded, site, tmp_path, minutes=6, speed=30, broker_switch=own_broker
    )
    district = result.district
    assert district is not None
    assert daemon.stats["reconnects"] >= 1
    assert np.nanmin(district.lamps.last_command_s) > district.start_s + 120


async def test_the_daemon_survives_a_storage_outage(
    broker: BrokerInfo, victoria: Victoria, tmp_path: Path
) -> None:
    """The database goes away for two simulated minutes: lighting goes on, readings wait in
    the spool and reach the database once it is back."""
    loaded = _scenario(tmp_path, "{storage_outage: [{at_s: 30, for_s: 120}]}")
    site = _on(loaded.world.site, broker, {"influx": InfluxSettings(url=victoria.url)})
    result, daemon = await _night(
        loaded, site, tmp_path, minutes=5, speed=30, storage_switch=victoria
    )
    assert daemon.stats["accepted"] > 10 and daemon.stats["commands"] > 10
    assert victoria.count("pedestrian_count") > 0
    assert result.district is not None


async def test_replay_to_a_broker_sends_the_recorded_inputs_in_order(
    broker: BrokerInfo, tmp_path: Path
) -> None:
    """Replaying to a broker publishes every recorded input once, in order and unchanged, at
    the recorded spacing over the speed, and leaves the recorded lamp commands out."""
    root = f"luciole/replay-{uuid.uuid4().hex[:8]}"
    inputs = [
        Record(1e9 + i * 0.5, f"{root}/sensor/pedestrian/c{i % 2}", f'{{"seq": {i}}}'.encode())
        for i in range(12)
    ]
    command = Record(1e9 + 1.2, f"{root}/lamp/a-01/set", b'{"level": 1}')
    records = [*inputs[:3], command, *inputs[3:]]
    received: list[tuple[str, bytes]] = []
    async with (
        aiomqtt.Client(broker.host, broker.port, identifier=f"sub-{root[-8:]}") as sub,
        aiomqtt.Client(broker.host, broker.port, identifier=f"pub-{root[-8:]}") as pub,
    ):
        await sub.subscribe(f"{root}/#", qos=1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent = await replay_to_broker(iter(records), pub, 10.0, lambda t: t.endswith("/set"))
        took_s = loop.time() - began
        async with asyncio.timeout(10):
            async for message in sub.messages:
                received.append((str(message.topic), bytes(message.payload)))
                if len(received) == len(inputs):
                    break
    assert sent == len(inputs)
    assert received == [(r.topic, r.payload) for r in inputs]
    assert took_s >= 5.5 / 10  # 5.5 s of recording at ten times the speed
