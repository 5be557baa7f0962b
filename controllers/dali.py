"""DALI arc power levels: the logarithmic dimming curve of IEC 62386-102.

Arc power level n (1..254) gives X(n) = 10 ** ((n - 1) / (253 / 3) - 1) percent of full light:
n = 1 is 0.1 %, n = 254 is 100 %, and each step is about 2.8 % brighter than the one below, so
that equal steps look equal to the eye. 0 means off. Drivers that want arc power get it in the
command beside the level (a policy switch); the level stays the controller's own unit.
"""

import numpy as np
import numpy.typing as npt

from controllers.topology import FloatArray

STEPS_PER_DECADE = 253 / 3
MAX_ARC = 254
UInt8Array = npt.NDArray[np.uint8]


def arc_power(level: npt.NDArray[np.floating]) -> UInt8Array:
    """The nearest arc power level for each light level 0..1 (0 stays off; any light at all
    is at least level 1, the curve's 0.1 %)."""
    with np.errstate(divide="ignore"):
        n = 1 + STEPS_PER_DECADE * (np.log10(np.asarray(level, dtype=np.float64) * 100) + 1)
    arc = np.clip(np.rint(n), 1, MAX_ARC).astype(np.uint8)
    arc[np.asarray(level) <= 0] = 0
    return arc


def light_level(arc: npt.NDArray[np.integer]) -> FloatArray:
    """The light level 0..1 an arc power level gives (the curve itself)."""
    n = np.asarray(arc, dtype=np.float64)
    level: FloatArray = np.where(n > 0, 10 ** ((n - 1) / STEPS_PER_DECADE - 1) / 100, 0.0)
    return level
