"""Learnt walking speeds: each street's fast and slow walkers, from the counts themselves.

A walker seen entering a zone at one counter and leaving it at the next gives a sample: the
walk between the two counters over the time between the two detections (stops included, so
the slow walkers are the ones who also stop on the way). The last `samples` of each street
are kept; with at least `min_samples`, its fast walker is the `fast_quantile` of them and its
slow walker the `slow_quantile`, each within the policy's bounds (the fastest and slowest
walkers it prepares for); with fewer, the policy's own values. Plain data in and out
(`snapshot`, `restore`), so the daemon can keep what was learnt across restarts.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from controllers.topology import FloatArray, IntArray

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class SpeedRules:
    """How speeds are learnt (the policy's `speeds` section)."""

    samples: int = 200
    min_samples: int = 20
    fast_quantile: float = 0.95
    slow_quantile: float = 0.05


@dataclass(frozen=True)
class Learnt:
    """One street's learnt speeds (m/s; None: not enough samples yet)."""

    street: str
    samples: int
    fast_mps: float | None
    slow_mps: float | None


class Speeds:
    """A ring of speed samples per street."""

    def __init__(self, streets: tuple[str, ...], rules: SpeedRules) -> None:
        self.streets = streets
        self.rules = rules
        self._ring = np.full((len(streets), rules.samples), np.nan)
        self._next = np.zeros(len(streets), dtype=np.int64)
        self._seen = np.zeros(len(streets), dtype=np.int64)
        self._cache: dict[int, tuple[float, float] | None] = {}

    def add(self, street: int, speed_mps: float) -> None:
        """One walker's speed between two counters of `street`."""
        if not np.isfinite(speed_mps) or speed_mps <= 0:
            return
        slot = int(self._next[street])
        self._ring[street, slot] = speed_mps
        self._next[street] = (slot + 1) % self.rules.samples
        self._seen[street] += 1
        self._cache.pop(street, None)

    def learnt(self, street: int) -> tuple[float, float] | None:
        """(fast, slow) of a street, or None before `min_samples`."""
        if street in self._cache:
            return self._cache[street]
        row = self._ring[street]
        kept = row[np.isfinite(row)]
        found: tuple[float, float] | None = None
        if len(kept) >= self.rules.min_samples:
            rules = self.rules
            fast, slow = np.quantile(kept, [rules.fast_quantile, rules.slow_quantile])
            found = (float(fast), float(slow))
        self._cache[street] = found
        return found

    def bounded(
        self, street: IntArray, fastest_mps: FloatArray, slowest_mps: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(fast, slow) for segments of `street`: the learnt values within the policy's
        fastest and slowest walkers, or the policy's own values before enough samples."""
        fast = np.array(fastest_mps, dtype=np.float64, copy=True)
        slow = np.array(slowest_mps, dtype=np.float64, copy=True)
        for code in np.unique(street).tolist():
            learnt = self.learnt(code)
            if learnt is None:
                continue
            rows = street == code
            fast[rows] = np.clip(learnt[0], slowest_mps[rows], fastest_mps[rows])
            slow[rows] = np.clip(learnt[1], slowest_mps[rows], fast[rows])
        return fast, slow

    def report(self) -> list[Learnt]:
        """What was learnt, street by street (for `luciole status` and the console)."""
        out = []
        for code, name in enumerate(self.streets):
            learnt = self.learnt(code)
            count = int(np.isfinite(self._ring[code]).sum())
            fast, slow = (None, None) if learnt is None else learnt
            out.append(Learnt(name, count, fast, slow))
        return out

    def snapshot(self) -> dict[str, Any]:
        """The samples as plain data (JSON-ready), street by street, oldest first."""
        streets = {}
        for code, name in enumerate(self.streets):
            row = np.roll(self._ring[code], -int(self._next[code]))
            streets[name] = [round(float(v), 4) for v in row[np.isfinite(row)]]
        return {"version": SNAPSHOT_VERSION, "streets": streets}

    def restore(self, snapshot: dict[str, Any]) -> int:
        """Samples of a previous run (as `snapshot` gave them); streets the site no longer has
        are skipped. How many samples were restored."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            return 0
        restored = 0
        code_of = {name: code for code, name in enumerate(self.streets)}
        for name, values in dict(snapshot.get("streets", {})).items():
            if name not in code_of:
                continue
            for value in list(values)[-self.rules.samples :]:
                self.add(code_of[name], float(value))
                restored += 1
        return restored
