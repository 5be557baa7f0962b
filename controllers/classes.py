"""EN 13201-2 pedestrian lighting classes (P1 busiest … P6 quietest) and the levels they need.

A class asks for an average maintained horizontal illuminance on the ground; a segment's
photometry says how many lux its lamps give at 100 %, so the level a class needs there is the
ratio of the two (lamp light output is close to linear in the dimming level for LED drivers).
"""

import numpy as np
import numpy.typing as npt

# Spelt out rather than imported from topology, which imports this module.
_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]

CLASS_NAMES: tuple[str, ...] = ("P1", "P2", "P3", "P4", "P5", "P6")
# Average maintained illuminance Ē (lx) and minimum E_min (lx), EN 13201-2:2015 table 3.
AVERAGE_LUX: tuple[float, ...] = (15.0, 10.0, 7.5, 5.0, 3.0, 2.0)
MINIMUM_LUX: tuple[float, ...] = (3.0, 2.0, 1.5, 1.0, 0.6, 0.4)
QUIETEST = len(CLASS_NAMES) - 1  # P6: the lowest class, the floor of any lit street

_AVERAGE_LUX = np.array(AVERAGE_LUX)


def class_index(name: str) -> int:
    """0 for P1 … 5 for P6; ValueError names the known classes."""
    try:
        return CLASS_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown lighting class {name!r}; use one of P1..P6") from None


def class_level(lux_at_full_lx: _Floats, classes: _Ints) -> _Floats:
    """The dimming level (0..1) at which each segment meets its class's average illuminance;
    1 where the lamps cannot reach it."""
    level: _Floats = np.minimum(_AVERAGE_LUX[classes] / lux_at_full_lx, 1.0)
    return level
