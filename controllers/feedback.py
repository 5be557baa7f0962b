"""Lamp feedback against the commands: which lamps do not do what they are told.

Three alerts, each raised when its condition has held for `alerts.delay_s` and cleared as soon
as it stops holding (a lamp reporting `failed` is raised at once):
- `lamp_failure`: the lamp says it failed, or it draws less than `min_power_share` of what its
  commanded level should draw (a dead light source behind a live driver);
- `dimming_failure`: while lit (or overridden), the reported level is more than `tolerance`
  away from the command once the commanded fade is over (a stuck or unreachable driver);
- `lamp_unexpected_on`: the schedule says off, no override lights it, and the lamp burns
  (a lamp in its watchdog fallback by day, a bypassed driver).
Pure arrays; the daemon feeds the reports and publishes the changes.
"""

from dataclasses import dataclass

import numpy as np

from controllers.energy import power_w
from controllers.settings.policy import Alerts
from controllers.topology import BoolArray, Float32Array, FloatArray, Topology

ALERT_TYPES = ("lamp_failure", "dimming_failure", "lamp_unexpected_on")
STATUSES = ("ok", "failed", "fallback")
_FAILED = STATUSES.index("failed")


@dataclass(frozen=True)
class AlertChange:
    """An alert that started (active) or ended on one segment, with what was seen."""

    kind: str
    segment: int
    active: bool
    commanded: float
    actual: float
    power_w: float
    since_s: float


@dataclass(frozen=True, eq=False)
class Commanded:
    """What the lamps were told: level (-inf: nothing yet), when, over what fade; and whether
    the schedule says lit and an override is in force."""

    level: Float32Array
    at_s: FloatArray
    ramp_s: Float32Array
    lit: BoolArray
    override: BoolArray


class Monitor:
    """The latest report of every lamp and the state of every alert."""

    def __init__(self, topology: Topology) -> None:
        size = topology.size
        self._topology = topology
        self.actual = np.full(size, np.nan)
        self.power_w = np.full(size, np.nan)
        self.status = np.zeros(size, dtype=np.int8)
        self._since = {kind: np.full(size, np.nan) for kind in ALERT_TYPES}
        self.active = {kind: np.zeros(size, dtype=np.bool_) for kind in ALERT_TYPES}
        # Segments whose alerts came back from a previous run: held as they were until the
        # lamp has been told its level again and the fade is over (`evaluate`).
        self._restored = np.zeros(size, dtype=np.bool_)

    def snapshot(self, segment: int) -> dict[str, object]:
        """What a restart needs of one segment: its lamp's last report and its alerts."""
        return {
            "actual": float(self.actual[segment]),
            "power_w": float(self.power_w[segment]),
            "status": STATUSES[int(self.status[segment])],
            "since": {kind: float(self._since[kind][segment]) for kind in ALERT_TYPES},
            "active": [kind for kind in ALERT_TYPES if self.active[kind][segment]],
        }

    def restore(self, segment: int, saved: dict[str, object]) -> None:
        """A segment as `snapshot` gave it in a previous run. Its alerts are held as they were
        until it is told its level again and the fade is over: a restart's first commands
        are not yet settled, and judging them would end an alert, then raise it anew."""
        self.actual[segment] = float(str(saved["actual"]))
        self.power_w[segment] = float(str(saved["power_w"]))
        self.status[segment] = STATUSES.index(str(saved["status"]))
        since, active = saved["since"], saved["active"]
        assert isinstance(since, dict) and isinstance(active, list)
        for kind in ALERT_TYPES:
            self._since[kind][segment] = float(since.get(kind, np.nan))
            self.active[kind][segment] = kind in active
        self._restored[segment] = any(kind in active for kind in ALERT_TYPES)

    def since(self, kind: str) -> FloatArray:
        """When the condition of each segment's `kind` alert began (NaN: it does not hold)."""
        return self._since[kind]

    def report(self, segment: int, level: float, power_w: float, status: str) -> None:
        """A lamp state message."""
        self.actual[segment] = level
        self.power_w[segment] = power_w
        self.status[segment] = STATUSES.index(status)

    def evaluate(self, told: Commanded, now_s: float, rules: Alerts) -> list[AlertChange]:
        """Update every alert at `now_s`; the ones that started or ended."""
        conditions = self._conditions(told, now_s, rules)
        held = self._restored & ~(np.isfinite(told.at_s) & (now_s >= told.at_s + told.ramp_s))
        self._restored &= held  # told and settled since the restart: judged as any other
        changes: list[AlertChange] = []
        for kind, judged in conditions.items():
            since = self._since[kind]
            holds = np.where(held, self.active[kind], judged)
            since[:] = np.where(holds, np.fmin(since, now_s), np.nan)
            due = holds & (now_s - since >= rules.delay_s)
            if kind == "lamp_failure":  # a lamp that says it failed is not waited for
                due |= holds & (self.status == _FAILED)
            for segment in np.flatnonzero(due != self.active[kind]).tolist():
                changes.append(self._change(kind, segment, bool(due[segment]), told, since))
            self.active[kind] = due
        return changes

    def _conditions(self, told: Commanded, now_s: float, rules: Alerts) -> dict[str, BoolArray]:
        reported = ~np.isnan(self.actual)
        commanded = told.level.astype(np.float64)
        sent = np.isfinite(commanded)
        settled = sent & (now_s >= told.at_s + told.ramp_s)
        failed = reported & (self.status == _FAILED)
        topology = self._topology
        expected_w = power_w(
            np.where(sent, commanded, 0.0), topology.rated_power_w, topology.standby_power_w
        )
        weak = settled & (commanded > 0) & (self.power_w < rules.min_power_share * expected_w)
        lamp_failure = failed | (reported & weak)
        far = np.abs(self.actual - commanded) > rules.tolerance
        on_duty = told.lit | told.override
        dimming = reported & settled & far & on_duty & ~lamp_failure
        burning = reported & (self.actual > rules.tolerance) & ~on_duty & ~failed
        return {
            "lamp_failure": lamp_failure,
            "dimming_failure": dimming,
            "lamp_unexpected_on": burning,
        }

    def _change(
        self, kind: str, segment: int, active: bool, told: Commanded, since: FloatArray
    ) -> AlertChange:
        level = float(told.level[segment])
        return AlertChange(
            kind=kind,
            segment=segment,
            active=active,
            commanded=level if np.isfinite(level) else 0.0,
            actual=float(self.actual[segment]),
            power_w=float(self.power_w[segment]),
            since_s=float(since[segment]) if active else float("nan"),
        )
