"""Offline mode: a scenario's night through the gateway's pipeline, in simulated time.

Deterministic for a seed: no wall clock, no network, one random stream per part of the world.
Each tick the world moves (walkers and devices, as arrays), the messages due go through the
gateway's intake and lighting at the time they were sent (the broker adds no delay worth
simulating), the tick's own commands follow, lamps obey, and the accounts are booked.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers.settings import Policy, SiteConfig
from controllers.settings.loader import load_model
from gateway.config import load_settings
from gateway.pipeline import Outgoing
from sim.devices.sensors import Outgoing as Message
from sim.report.metrics import Series
from sim.report.outputs import accounts, local_iso
from sim.runs.build import World, world_from_scenario
from sim.runs.demo import night_window
from sim.runs.district import District
from sim.runs.offline import Command, Pipeline, as_commands
from sim.world.scenario import Scenario, Window, load_scenario

Progress = Callable[[float], None]


@dataclass(frozen=True, eq=False)
class Loaded:
    """A scenario file with its world and the night it covers."""

    scenario: Scenario
    world: World
    start_s: float
    end_s: float


def load(path: Path) -> Loaded:
    """Read a scenario file and build its world; ConfigError or ValueError say what is wrong."""
    scenario = load_scenario(path)
    site: SiteConfig | None = None
    if scenario.site_file is not None:
        site = load_settings(path.parent / scenario.site_file).site
    world = world_from_scenario(scenario, path.parent, site)
    start_s, end_s = night_window(world.site, scenario.night.date, scenario.night.margin_s)
    return Loaded(scenario, world, start_s, end_s)


def load_policy(path: Path) -> Policy:
    return load_model(Policy, path.read_text(encoding="utf-8"), str(path))


@dataclass(frozen=True, eq=False)
class Result:
    """What an offline night gave."""

    district: District
    pipeline: Pipeline
    commands: list[Command]
    held_messages: int
    lamp_fallbacks: int

    @property
    def series(self) -> Series:
        return self.district.metrics.series()


class _Outages:
    """Broker outages offline: messages wait (QoS 1) and commands are lost until it is back."""

    def __init__(self, windows: list[Window], start_s: float) -> None:
        self._windows = windows
        self._start_s = start_s
        self.held: list[Message] = []
        self.total_held = 0
        self._was_down = False

    def down(self, time_s: float) -> bool:
        return any(w.covers(time_s - self._start_s) for w in self._windows)

    def back_up(self, now_s: float) -> bool:
        """True once, at the first tick after an outage ended."""
        down = self.down(now_s)
        ended = self._was_down and not down
        self._was_down = down
        return ended


def run_offline(
    world: World,
    policy: Policy,
    window: tuple[float, float],
    seed: int,
    progress: Progress | None = None,
) -> Result:
    """The night `window` (epoch seconds) of `world` under `policy`."""
    start_s, end_s = window
    district = District(
        world.site, policy, start_s, end_s, seed, world=world, max_step_s=world.tick_s
    )
    pipeline = Pipeline(world.site, policy, start_s)
    outages = _Outages(world.faults.broker_outage, start_s)
    commands: list[Command] = []
    fallbacks = 0

    def apply(out: list[Outgoing], time_s: float) -> None:
        if outages.down(time_s):
            return  # the gateway cannot reach the lamps
        for o in out:
            index = district.topology.index_of(o.segment)
            district.lamps.command(
                index, o.command.level, o.command.ramp_s, time_s, o.command.reason
            )
        commands.extend(as_commands(out))

    apply(pipeline.tick(start_s), start_s)
    now_s = start_s
    while now_s < end_s:
        now_s = min(now_s + world.tick_s, end_s)
        _deliver(district.advance(now_s), pipeline, outages, apply)
        if outages.back_up(now_s):
            pipeline.reconnected()
            _deliver(outages.held, pipeline, outages, apply, at_s=now_s)
            outages.held = []
        apply(pipeline.tick(now_s), now_s)
        fallbacks += len(district.lamps.check_watchdog(now_s))
        district.account(now_s)
        if progress is not None:
            progress((now_s - start_s) / (end_s - start_s))
    return Result(district, pipeline, commands, outages.total_held, fallbacks)


def _deliver(
    messages: list[Message],
    pipeline: Pipeline,
    outages: _Outages,
    apply: Callable[[list[Outgoing], float], None],
    at_s: float | None = None,
) -> None:
    for message in messages:
        received_s = message.send_s if at_s is None else at_s
        if outages.down(received_s):
            outages.held.append(message)
            outages.total_held += 1
            continue
        apply(pipeline.message(message.topic, message.body, received_s), received_s)


def summary_of(result: Result, loaded: Loaded, policy_name: str, seed: int) -> dict[str, Any]:
    """summary.json's content: the night's facts, energies (kWh), shares (0..1)."""
    district = result.district
    facts = {
        "scenario": loaded.scenario.name,
        "policy": policy_name,
        "seed": seed,
        "held_messages": result.held_messages,
        "lamp_fallbacks": result.lamp_fallbacks,
        "gateway": dict(sorted(result.pipeline.stats.items())),
        "faults": district.faults.counts,
        "counted": int(district.counters.counts.sum()),
        "detected": int(district.counters.detected.sum()),
    }
    return night_summary(district, len(result.commands), facts)


def night_summary(district: District, commands: int, facts: dict[str, Any]) -> dict[str, Any]:
    """The summary of an offline run."""
    return {
        "site": district.site_id,
        "night_start": local_iso(district.start_s, district.zone),
        "night_end": local_iso(district.end_s, district.zone),
        **facts,
        "walkers": district.walkers.total,
        "commands": commands,
        "sensor_messages": district.sensor_messages,
        **accounts(district.metrics),
    }
