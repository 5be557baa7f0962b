"""How walkers walk (speeds, stops, turns) and where streets meet, as the walkers use them.

The topology knows streets, not where they cross: junctions come from the scenario, listed
both ways, and plug into `sim.world.walkers.Walkers` as arrays.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controllers.topology import FloatArray, IntArray


@dataclass(frozen=True)
class Behaviour:
    """How walkers walk: speeds, stops (chance per segment entered), turns (per junction)."""

    speed_range_mps: tuple[float, float] = (1.2, 1.6)
    stop_probability: float = 0.0
    stop_range_s: tuple[float, float] = (10.0, 60.0)
    turn_probability: float = 0.0


@dataclass(frozen=True)
class JunctionPoint:
    """Walkers on `street` passing `position_m` may turn onto `other` at `other_position_m`."""

    street: int
    position_m: float
    other: int
    other_position_m: float


@dataclass(frozen=True, eq=False)
class Junctions:
    street: IntArray
    position_m: FloatArray
    other: IntArray
    other_position_m: FloatArray


def junction_arrays(points: Sequence[JunctionPoint]) -> Junctions:
    return Junctions(
        np.array([p.street for p in points], dtype=np.int64),
        np.array([p.position_m for p in points], dtype=np.float64),
        np.array([p.other for p in points], dtype=np.int64),
        np.array([p.other_position_m for p in points], dtype=np.float64),
    )


@dataclass(frozen=True, eq=False)
class Turn:
    """Per walker: where on its street it turns, onto which street, where, after how long."""

    position_m: FloatArray
    other: IntArray
    other_position_m: FloatArray
    walk_s: FloatArray

    @classmethod
    def none(cls, size: int) -> "Turn":
        zeros = np.zeros(size)
        return cls(zeros.copy(), np.zeros(size, dtype=np.int64), zeros.copy(), zeros.copy())
