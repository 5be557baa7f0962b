"""Level specs from the policy (a ratio, a lighting class, `rated`) made into per-segment levels.

A class asks for an illuminance; the segment's photometry turns it into the dimming level that
gives it there (controllers.classes.class_level), so `P5` is 0.2 on a street whose lamps give
15 lx at full and 0.6 on one whose lamps give 5 lx.
"""

import numpy as np

from controllers.classes import class_index, class_level
from controllers.topology import Float32Array, IntArray, Topology
from controllers.units import RATED


def resolve(spec: float | str, topology: Topology, segments: IntArray) -> Float32Array:
    """The level `spec` asks for on each of `segments`, as float32."""
    if isinstance(spec, float | int):
        return np.full(len(segments), spec, dtype=np.float32)
    lux = topology.lux_at_full_lx[segments]
    if spec == RATED:
        classes = topology.rated_class[segments]
    else:
        classes = np.full(len(segments), class_index(spec), dtype=np.int64)
    return class_level(lux, classes).astype(np.float32)


def describe(spec: float | str) -> str:
    """`40%`, `P4` or `rated`, for messages."""
    return f"{spec * 100:g}%" if isinstance(spec, float | int) else str(spec)
