"""Energy accounting in the daemon: every tick adds the time since the last one at the levels
then in force; every `energy.interval_s` the kWh of the interval are stored, per segment and
for the site (`segment=all`), with the always-on and static-schedule baselines beside them.

The levels are the commanded targets (fades of a few seconds are not modelled here); the
lamps' own power reports feed the alerts, not this estimate.
"""

import numpy as np

from controllers.energy import EnergyMeter
from controllers.engine import Step
from controllers.targets import ALL
from controllers.topology import Topology
from gateway.store.records import controller_row
from gateway.store.spool import SpoolRow

_KEYS = ("energy_kwh", "always_on_kwh", "static_kwh")


class EnergyLog:
    """The meter and what of it was stored already."""

    def __init__(self, topology: Topology, now_s: float) -> None:
        self._topology = topology
        self.meter = EnergyMeter(topology.rated_power_w, topology.standby_power_w)
        self._held: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._last_s = now_s
        self._written = {key: np.zeros(topology.size) for key in _KEYS}
        self._interval_start_s = now_s
        # Tonight: from the last dusk the daemon saw (from its start, until it sees one).
        self.night_since_s = now_s
        self._night_base = {key: np.zeros(topology.size) for key in _KEYS}
        self._lit = False

    def tick(self, step: Step, now_s: float) -> None:
        """Book the time since the last tick at the levels held then; hold this step's."""
        if self._held is not None and now_s > self._last_s:
            level, lit, static = self._held
            self.meter.add(level, lit, now_s - self._last_s, static)
        self._held = (step.level.copy(), step.lit.copy(), step.schedule_level.copy())
        self._last_s = max(now_s, self._last_s)
        lit_now = bool(step.lit.any())
        if lit_now and not self._lit:  # dusk: tonight's count starts here
            self.night_since_s = now_s
            self._night_base = {key: getattr(self.meter, key).copy() for key in _KEYS}
        self._lit = lit_now

    def tonight(self) -> dict[str, np.ndarray]:
        """kWh per segment since `night_since_s`: used, always-on and static."""
        return {key: getattr(self.meter, key) - self._night_base[key] for key in _KEYS}

    def due(self, now_s: float, interval_s: float) -> bool:
        return now_s - self._interval_start_s >= interval_s

    def rows(self, now_s: float) -> list[SpoolRow]:
        """The kWh since the last rows, one row per segment and one for the site."""
        totals = {key: getattr(self.meter, key) for key in _KEYS}
        delta = {key: totals[key] - self._written[key] for key in _KEYS}
        self._written = {key: value.copy() for key, value in totals.items()}
        fields_of = {"interval_s": round(now_s - self._interval_start_s, 3)}
        self._interval_start_s = now_s
        rows = []
        for i, segment in enumerate(self._topology.ids):
            fields = {**fields_of, **{key: float(delta[key][i]) for key in _KEYS}}
            rows.append(controller_row("energy", now_s, segment, f"{segment}:{now_s!r}", fields))
        site = {**fields_of, **{key: float(delta[key].sum()) for key in _KEYS}}
        rows.append(controller_row("energy", now_s, ALL, f"{ALL}:{now_s!r}", site))
        return rows
