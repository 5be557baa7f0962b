"""The simulated district without the network: walkers, sensors, lamps and the night's accounts.

`step(now_s)` moves the world to `now_s` and returns the sensor messages due by then (devices
have latencies, so a message can come out a step after the walker was seen); the caller puts
them on the broker (live) or into the gateway's pipeline (offline) and feeds lamp commands back
into `lamps`. Nothing here waits or reads a clock, so a whole night can be stepped in a test.
"""

import heapq
import itertools
import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.settings.site import SiteConfig
from controllers.topology import topology_from_site
from sim.devices.counters import PedestrianCounters
from sim.devices.faults import FaultInjector
from sim.devices.lamps import SimLamps
from sim.devices.sensors import Outgoing, PeriodicSensors
from sim.report.metrics import Metrics
from sim.report.view import Snapshot
from sim.runs.build import World, world_from_site
from sim.world.walkers import DEFAULT_RATE_PER_H, Walkers


class District:
    """Every simulated device of one site, stepped together in simulated time."""

    def __init__(
        self,
        site: SiteConfig,
        policy: Policy,
        start_s: float,
        end_s: float,
        seed: int,
        *,
        rate_per_h: Sequence[float] = DEFAULT_RATE_PER_H,
        watchdog_s: float | None = None,
        max_step_s: float = 10.0,
        world: World | None = None,
    ) -> None:
        world = world or world_from_site(site, rate_per_h)
        info = site.site
        self.world = world
        self.site_id = info.id
        self.zone = ZoneInfo(info.timezone)
        self.topology = topology_from_site(site)
        self.start_s, self.end_s = start_s, end_s
        # Independent streams: how often sensors report (which depends on real-time step
        # lengths) must not change which walkers the seed produces.
        streams = np.random.SeedSequence(seed).spawn(4)
        walker_rng, sensor_rng, counter_rng, fault_rng = map(np.random.default_rng, streams)
        self.walkers = Walkers(
            self.topology,
            self.zone,
            walker_rng,
            world.rates,
            behaviour=world.behaviour,
            junctions=world.junctions,
            forward_share=world.forward_share,
        )
        self.counters = PedestrianCounters(
            site, self.topology, specs=world.counters, rng=counter_rng
        )
        self.sensors = PeriodicSensors(site, sensor_rng)
        watchdog = watchdog_s if watchdog_s is not None else world.lamps.watchdog_s
        self.lamps = SimLamps(
            self.topology, watchdog_s=watchdog, fallback_level=world.lamps.fallback_level
        )
        self.faults = FaultInjector(world.faults, start_s, fault_rng)
        astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
        self.metrics = Metrics(self.topology, policy, astro, end_s - start_s)
        self.max_step_s = max_step_s
        self.sensor_messages = 0
        self._last_s = start_s
        self._moved_s = start_s
        self._pending: list[tuple[float, int, Outgoing]] = []
        self._order = itertools.count()
        self._lamp_faults_done = False
        # Power-on reports (LoRaWAN counters' first totals) go out before anything is seen.
        for message in self.counters.heartbeats(start_s):
            heapq.heappush(self._pending, (message.send_s, next(self._order), message))

    def step(self, now_s: float) -> list[Outgoing]:
        """Move the world to `now_s` and return what the sensors sent by then, in send order.

        A long gap (the event loop was busy) is walked in sub-steps of at most `max_step_s`,
        so that walker-time is not all booked where walkers stood at the start of the gap.
        Each sub-step is accounted before the walkers move (see `account`).
        """
        gap_s = max(now_s - self._last_s, 0.0)
        count = max(1, math.ceil(gap_s / self.max_step_s))
        ends_s = self._last_s + gap_s * np.arange(1, count + 1) / count
        made: list[Outgoing] = []
        for end_s in ends_s.tolist():
            made += self._move(end_s, self.account(end_s))
        return self._release(now_s, made)

    def advance(self, now_s: float) -> list[Outgoing]:
        """Move the world to `now_s` without accounting; the caller applies the messages, then
        calls `account(now_s)` with walkers where they are now (the offline order)."""
        return self._release(now_s, self._move(now_s, max(now_s - self._moved_s, 0.0)))

    def _move(self, end_s: float, dt_s: float) -> list[Outgoing]:
        self._moved_s = end_s
        made = self.counters.on_entries(self.walkers.step(end_s, dt_s))
        return made + self.counters.false_triggers(end_s, dt_s)

    def _release(self, now_s: float, made: list[Outgoing]) -> list[Outgoing]:
        made += self.counters.due(now_s)
        made += self.sensors.due(now_s)
        self._lamp_faults(now_s)
        for message in self.faults.apply(made):
            heapq.heappush(self._pending, (message.send_s, next(self._order), message))
        due: list[Outgoing] = []
        while self._pending and self._pending[0][0] <= now_s:
            due.append(heapq.heappop(self._pending)[2])
        self.sensor_messages += len(due)
        return due

    def account(self, now_s: float) -> float:
        """Add the time since the last step to the metrics; returns that time in seconds.

        Walkers are counted where they were at the start of the interval and lamps at its end.
        The gateway reacts in real milliseconds, which the speed-up turns into simulated
        seconds; reading the lamps one step after the walkers moved gives it that step to
        react, so comfort measures the lighting policy rather than the acceleration.
        """
        dt_s = max(now_s - self._last_s, 0.0)
        self._last_s = max(now_s, self._last_s)
        level = self.lamps.level(now_s)
        self.metrics.add(
            now_s, dt_s, level, self.walkers.ids, self.walkers.segments, reason=self.lamps.reason
        )
        return dt_s

    def _lamp_faults(self, now_s: float) -> None:
        faults = self.world.faults
        if self._lamp_faults_done or now_s - self.start_s < faults.lamp_failure_at_s:
            return
        self._lamp_faults_done = True
        index = self.topology.index_of
        self.lamps.fail(np.array([index(s) for s in faults.lamp_failures], dtype=np.int64))
        self.lamps.stick(np.array([index(s) for s in faults.stuck_drivers], dtype=np.int64))

    def snapshot(self, now_s: float) -> Snapshot:
        """What the view shows at `now_s`."""
        window_s = self.end_s - self.start_s
        energy = self.metrics.energy
        return Snapshot(
            local_time=datetime.fromtimestamp(now_s, self.zone).strftime("%a %H:%M"),
            lit=self.metrics.lit,
            progress=min(max((now_s - self.start_s) / window_s, 0.0), 1.0) if window_s else 1.0,
            segment_ids=self.topology.ids,
            level=self.lamps.level(now_s),
            walkers=self.walkers.per_segment(self.topology.size),
            counted=self.counters.per_segment(),
            walkers_total=self.walkers.total,
            commands=self.lamps.commands,
            energy_kwh=float(energy.energy_kwh.sum()),
            always_on_kwh=float(energy.always_on_kwh.sum()),
        )
