"""The simulated district without the network: walkers, sensors, lamps and the night's accounts.

`step(now_s)` moves the world to `now_s` and returns the sensor messages it produced; the
caller puts them on the broker and feeds lamp commands back into `lamps`. Nothing here waits
or reads a clock, so a whole night can also be stepped in a test.
"""

import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from controllers.schedule import AstronomicalClock
from controllers.settings.policy import Policy
from controllers.settings.site import SiteConfig
from controllers.topology import topology_from_site
from sim.lamps import SimLamps
from sim.metrics import Metrics
from sim.sensors import Outgoing, PedestrianCounters, PeriodicSensors
from sim.view import Snapshot
from sim.walkers import DEFAULT_RATE_PER_H, Walkers


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
        watchdog_s: float = 900.0,
        max_step_s: float = 10.0,
    ) -> None:
        info = site.site
        self.site_id = info.id
        self.zone = ZoneInfo(info.timezone)
        self.topology = topology_from_site(site)
        self.start_s, self.end_s = start_s, end_s
        # Independent streams: how often sensors report (which depends on real-time step
        # lengths) must not change which walkers the seed produces.
        walker_seed, sensor_seed = np.random.SeedSequence(seed).spawn(2)
        self.walkers = Walkers(
            self.topology, self.zone, np.random.default_rng(walker_seed), rate_per_h
        )
        self.counters = PedestrianCounters(site, self.topology)
        self.sensors = PeriodicSensors(site, np.random.default_rng(sensor_seed))
        self.lamps = SimLamps(self.topology, watchdog_s=watchdog_s)
        astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
        self.metrics = Metrics(self.topology, policy, astro, end_s - start_s)
        self.max_step_s = max_step_s
        self.sensor_messages = 0
        self._last_s = start_s

    def step(self, now_s: float) -> list[Outgoing]:
        """Move the world to `now_s` and return what the sensors said on the way.

        A long gap (the event loop was busy) is walked in sub-steps of at most `max_step_s`,
        so that walker-time is not all booked where walkers stood at the start of the gap.
        """
        gap_s = max(now_s - self._last_s, 0.0)
        count = max(1, math.ceil(gap_s / self.max_step_s))
        ends_s = self._last_s + gap_s * np.arange(1, count + 1) / count
        messages: list[Outgoing] = []
        for end_s in ends_s.tolist():
            dt_s = self.account(end_s)
            messages += self.counters.on_entries(self.walkers.step(end_s, dt_s))
        messages += self.counters.heartbeats(now_s)
        messages += self.sensors.due(now_s)
        self.sensor_messages += len(messages)
        return messages

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
        self.metrics.add(now_s, dt_s, level, self.walkers.ids, self.walkers.segments)
        return dt_s

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
