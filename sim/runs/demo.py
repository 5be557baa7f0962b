"""`luciole demo`: one night of a simulated district, two minutes of real time, the real gateway.

The gateway runs unmodified on an accelerated clock; the district's devices reach it only
through the broker, as real ones would. At the end: `summary.json`, a plot, and a summary.
"""

import asyncio
import dataclasses
import datetime as dt
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt

from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.settings.site import SiteConfig
from gateway.wire.clock import Clock
from gateway.wire.payloads import LOW_LATENCY_SOCKET_OPTIONS
from gateway.wire.topics import Topics
from sim.devices.bus import LampDevices, Outbox
from sim.report.outputs import Run, summary, write_report
from sim.report.view import View, make_view
from sim.runs.build import World
from sim.runs.clock import AcceleratedClock
from sim.runs.district import District
from sim.runs.live import Switch, device_task, outage_tasks

# The night is framed with some daylight on both sides so the plot shows the lamps switching.
MARGIN_S = 20 * 60
# Real seconds between simulation steps: smooth enough for the eye, light on the CPU...
STEP_REAL_S = 0.05
# ...but shorter at high speed: detections are published once per step, so a step is also
# the latency the gateway sees, and it must stay well under the presence hold time.
MAX_STEP_SIM_S = 10.0
MIN_STEP_REAL_S = 0.01


@dataclass
class DemoOptions:
    """How to run a live night; `speed`, when given, overrides `duration_s`. A scenario's
    `world` and `window` replace the site's defaults; outages of the broker or the database
    need the switch that can stop and start them."""

    out_dir: Path = Path("demo-out")
    duration_s: float = 60.0
    speed: float | None = None
    seed: int = 0
    date: dt.date | None = None
    live: bool = True
    world: World | None = None
    window: tuple[float, float] | None = None
    broker_switch: Switch | None = None
    storage_switch: Switch | None = None
    # Tasks that run beside the devices on the run's clock (a trace recorder, a probe).
    companions: tuple[Callable[[Clock], Awaitable[None]], ...] = ()


@dataclass(frozen=True)
class DemoResult:
    """What the night gave: the summary data and the files written;
    `sim.report.outputs.format_summary` turns it into lines for the terminal."""

    summary: dict[str, Any]
    summary_json: Path
    plot_png: Path
    district: District | None = None


def night_window(
    site: SiteConfig, day: dt.date | None = None, margin_s: float = MARGIN_S
) -> tuple[float, float]:
    """(start, end) epoch seconds: `margin_s` (20 min) before sunset of `day` to as long after
    the next sunrise.

    `day` defaults to today in the site's time zone. Where the sun does not set or rise (polar
    days and nights), 18:00 to 08:00 local stands in.
    """
    info = site.site
    zone = ZoneInfo(info.timezone)
    day = day or dt.datetime.now(zone).date()
    astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
    sunset_s = astro.sun_times(day)[1]
    sunrise_s = astro.sun_times(day + dt.timedelta(days=1))[0]
    if sunset_s is None or sunrise_s is None:
        sunset_s = dt.datetime.combine(day, dt.time(18), zone).timestamp()
        sunrise_s = sunset_s + 14 * 3600
    return sunset_s - margin_s, sunrise_s + margin_s


async def run_demo(
    site: SiteConfig,
    policy: Policy,
    options: DemoOptions,
    start_gateway: Callable[[Clock], Awaitable[None]],
) -> DemoResult:
    """Run the night against the gateway started by `start_gateway(clock)`; write the report.

    The caller has put the broker to use in `site.broker`. The gateway runs as a task until
    the night is over, then is cancelled and awaited; if it fails (or stops) earlier, its
    error ends the demo and propagates.
    """
    rig = _rig(site, policy, options)
    faults = rig.district.world.faults
    outages = outage_tasks(
        rig.clock,
        rig.district.start_s,
        [
            ("broker", faults.broker_outage, options.broker_switch),
            ("storage", faults.storage_outage, options.storage_switch),
        ],
    )
    with make_view(options.live) as view:
        async with (
            _client(site, "sensors") as sensors,
            _client(site, "lamps") as lamps,
            _client(site, "states") as states,
        ):
            # The gateway first: if starting it fails outright, no other task is left behind.
            gateway = asyncio.ensure_future(start_gateway(rig.clock))
            await _supervise(
                asyncio.create_task(_night(rig, view), name="the simulation"),
                device_task(lambda: _client(site, "lamps"), lamps, rig.lamps.serve, "the lamps"),
                device_task(
                    lambda: _client(site, "sensors"), sensors, rig.sensors.run, "the sensors"
                ),
                device_task(
                    lambda: _client(site, "states"), states, rig.lamp_states.run, "the lamp states"
                ),
                *outages,
                *(asyncio.ensure_future(c(rig.clock)) for c in options.companions),
                gateway,
            )
    # Book the time left to the end of the night (in sub-steps); nobody listens any more.
    rig.district.step(rig.district.end_s)
    return _report(rig, options)


@dataclass(frozen=True, eq=False)
class _Rig:
    """The simulated side of the demo, ready to be connected."""

    district: District
    clock: AcceleratedClock
    lamps: LampDevices
    sensors: Outbox
    lamp_states: Outbox


def _rig(site: SiteConfig, policy: Policy, options: DemoOptions) -> _Rig:
    start_s, end_s = options.window or night_window(site, options.date)
    speed = _speed(options, end_s - start_s)
    world = options.world
    if world is not None:
        world = dataclasses.replace(world, site=site)  # the caller's broker and prefix
    district = District(
        site, policy, start_s, end_s, options.seed, max_step_s=MAX_STEP_SIM_S, world=world
    )
    clock = AcceleratedClock(start_s, speed)
    topics = Topics(site.broker.topic_prefix, site.site.id)
    lamp_states = Outbox()
    lamps = LampDevices(district.lamps, district.topology, topics, clock, lamp_states)
    return _Rig(district, clock, lamps, Outbox(), lamp_states)


def _speed(options: DemoOptions, window_s: float) -> float:
    if options.speed is not None:
        if options.speed <= 0:
            raise ValueError(f"speed must be > 0 (got {options.speed})")
        return options.speed
    if options.duration_s <= 0:
        raise ValueError(f"duration_s must be > 0 (got {options.duration_s})")
    return window_s / options.duration_s


def _client(site: SiteConfig, role: str) -> aiomqtt.Client:
    # The process id keeps two demos on one shared broker from taking each other's session.
    identifier = f"luciole-sim-{site.site.id}-{role}-{os.getpid()}"
    client = aiomqtt.Client(
        site.broker.host,
        site.broker.port,
        identifier=identifier,
        socket_options=LOW_LATENCY_SOCKET_OPTIONS,
    )
    client.pending_calls_threshold = 10_000  # bursts of a whole street's messages are normal
    return client


async def _night(rig: _Rig, view: View) -> None:
    """Step the district until the end of the night; its messages go to the outboxes."""
    district, clock = rig.district, rig.clock
    step_real_s = min(STEP_REAL_S, max(MAX_STEP_SIM_S / clock.speed, MIN_STEP_REAL_S))
    while (now_s := clock.now()) < district.end_s:
        rig.sensors.offer(district.step(now_s))
        rig.lamps.watchdog(now_s)
        if view.frame_due():
            view.show(district.snapshot(now_s))
        await asyncio.sleep(step_real_s)
    view.show(district.snapshot(district.end_s))


async def _supervise(main: asyncio.Future[None], *background: asyncio.Future[None]) -> None:
    """Wait for `main`, which the background tasks must outlive. However it ends, every task
    is cancelled and awaited before returning; the first real error is raised, and a
    background task that ended on its own before `main` is an error too."""
    everything = (main, *background)
    try:
        done, _ = await asyncio.wait(everything, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in everything:
            task.cancel()
        await asyncio.gather(*everything, return_exceptions=True)
    early = [task for task in background if task in done]
    # Errors of whatever ended first explain the others (e.g. a broker that went away).
    for task in (*early, main, *background):
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    if early:
        raise RuntimeError(f"{_name(early[0])} stopped before the end of the demo night")


def _name(task: asyncio.Future[None]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else "the gateway"


def _report(rig: _Rig, options: DemoOptions) -> DemoResult:
    district = rig.district
    run = Run(
        site=district.site_id,
        zone=district.zone,
        start_s=district.start_s,
        end_s=district.end_s,
        speed=rig.clock.speed,
        seed=options.seed,
        walkers=district.walkers.total,
        commands=district.lamps.commands,
        rejected_commands=rig.lamps.rejected,
        sensor_messages=district.sensor_messages,
        dropped_messages=rig.sensors.dropped + rig.lamp_states.dropped,
    )
    data = summary(run, district.metrics)
    series = district.metrics.series()
    paths = write_report(
        options.out_dir,
        data,
        series,
        district.topology.ids,
        district.zone,
        hourly=district.metrics.hourly,
    )
    return DemoResult(data, paths.summary_json, paths.plot_png, district)
