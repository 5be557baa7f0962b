"""Simulated lamp drivers: fade to what they are told, and fall back when told nothing.

The fading model is `controllers.lamps.LampBank`, shared with the controller. On top of it sits
the watchdog that real DALI drivers have (the "system failure level"): a lamp that has heard no
command for `watchdog_s` assumes its controller is gone and goes to a safe level, so a crashed
gateway never leaves a street dark. No MQTT here, so the watchdog is testable with plain times.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from controllers.energy import power_w
from controllers.lamps import LampBank
from controllers.topology import BoolArray, FloatArray, IntArray, Topology

# What set a lamp's level: the controller's reasons, the lamp's own watchdog, or nothing yet.
REASONS = (
    "schedule",
    "traffic",
    "presence",
    "override",
    "failsafe",
    "occupancy",
    "watchdog",
    "none",
)

Status = Literal["ok", "failed", "fallback"]


@dataclass(frozen=True)
class LampReport:
    """What one lamp says on its state topic."""

    segment: int
    level: float
    power_w: float
    status: Status


class SimLamps:
    """One lamp driver per segment, in topology order; off (level 0) until first told."""

    def __init__(
        self,
        topology: Topology,
        watchdog_s: float = 900.0,
        fallback_level: float = 1.0,
        fallback_ramp_s: float = 2.0,
    ) -> None:
        self._rated_w = topology.rated_power_w
        self._standby_w = topology.standby_power_w
        self._bank = LampBank(topology.size, initial_level=0.0)
        self.watchdog_s = watchdog_s
        self.fallback_level = fallback_level
        self.fallback_ramp_s = fallback_ramp_s
        # NaN: never commanded. The watchdog only arms after a first command, so lamps that
        # were never under control stay as installed (off) instead of all lighting up at once.
        self._last_command_s = np.full(topology.size, np.nan)
        self._fallback = np.zeros(topology.size, dtype=np.bool_)
        self._failed = np.zeros(topology.size, dtype=np.bool_)
        self._stuck = np.zeros(topology.size, dtype=np.bool_)
        # Which rule set each lamp's level (an index of `REASONS`), for the
        # accounts.
        self.reason = np.full(topology.size, REASONS.index("none"), dtype=np.int64)
        self.commands = 0

    def fail(self, segments: IntArray) -> None:
        """Injected fault: these lamps go dark for good and say so."""
        self._failed[segments] = True

    def stick(self, segments: IntArray) -> None:
        """Injected fault: these drivers stay at the level they have now, whatever they are told."""
        self._stuck[segments] = True

    def command(
        self, segment: int, level: float, ramp_s: float, now_s: float, reason: str = "none"
    ) -> LampReport:
        """Apply a command from the controller; a lamp in fallback resumes normal service.
        A failed lamp or a stuck driver hears it and does nothing."""
        self.commands += 1
        self._last_command_s[segment] = now_s
        if self._failed[segment] or self._stuck[segment]:
            return self.report(segment, now_s)
        lamps = np.array([segment], dtype=np.int64)
        self._bank.command(lamps, np.array([level]), np.array([ramp_s]), now_s)
        self._fallback[segment] = False
        self.reason[segment] = REASONS.index(reason) if reason in REASONS else REASONS.index("none")
        return self.report(segment)

    def check_watchdog(self, now_s: float) -> list[LampReport]:
        """Send lamps silent for longer than `watchdog_s` to the fallback level; report them."""
        with np.errstate(invalid="ignore"):
            silent = (now_s - self._last_command_s) > self.watchdog_s
        expired: IntArray = np.flatnonzero(silent & ~self._fallback & ~self._failed & ~self._stuck)
        if len(expired) == 0:
            return []
        level = np.full(len(expired), self.fallback_level)
        self._bank.command(expired, level, np.full(len(expired), self.fallback_ramp_s), now_s)
        self._fallback[expired] = True
        self.reason[expired] = REASONS.index("watchdog")
        return [self.report(int(segment)) for segment in expired]

    def level(self, now_s: float) -> FloatArray:
        """Actual (fading) level of every lamp at `now_s`; a failed lamp gives no light."""
        level: FloatArray = np.where(self._failed, 0.0, self._bank.level(now_s))
        return level

    @property
    def last_command_s(self) -> FloatArray:
        """When each lamp last heard a command (NaN: never)."""
        return self._last_command_s.copy()

    @property
    def fallback(self) -> BoolArray:
        """Which lamps are in fallback now."""
        return self._fallback.copy()

    def report(self, segment: int, now_s: float | None = None) -> LampReport:
        """State as a driver reports it: the level it is settling to and the power it draws there.

        The target, not the mid-fade level, so that a controller comparing commanded with
        actual does not see a mismatch for every ramp. A stuck driver reports where it is stuck.
        """
        if self._failed[segment]:
            standby = float(self._standby_w[segment])
            return LampReport(segment, 0.0, standby, "failed")
        target = self._bank.target[segment : segment + 1]
        if self._stuck[segment] and now_s is not None:
            target = self._bank.level(now_s)[segment : segment + 1]
        watts = power_w(
            target, self._rated_w[segment : segment + 1], self._standby_w[segment : segment + 1]
        )
        status: Status = "fallback" if self._fallback[segment] else "ok"
        return LampReport(segment, float(target[0]), float(watts[0]), status)
