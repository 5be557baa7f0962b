"""The engine's working arrays, each with a name (see `StepBuffers`)."""

from dataclasses import dataclass

import numpy as np

from controllers.topology import BoolArray, Float32Array


@dataclass(frozen=True, eq=False)
class StepBuffers:
    """The arrays a step works in, allocated once (a step allocates nothing), one per use:
    no two layers share one, so reordering the layers cannot make one overwrite another's.
    The masks and levels a `Step` returns are these arrays, valid until the next step."""

    presence: BoolArray  # segments presence holds up
    failsafe: BoolArray  # lit segments whose sensors went silent
    override: BoolArray  # segments under an operator's override
    changed: BoolArray  # targets that moved since the last step (new fades)
    window: BoolArray  # the ahead, then the occupied window, while presence is worked out
    occupied: BoolArray  # occupied segments, for staggered presence
    presence_level: Float32Array  # what presence asks for (0 elsewhere)
    occupied_level: Float32Array  # what occupancy alone asks for
    failsafe_level: Float32Array  # what the fail-safe asks for (0 elsewhere)
    occupancy_level: Float32Array  # what zone occupancy asks for (0 elsewhere)

    @classmethod
    def of(cls, size: int) -> "StepBuffers":
        def mask() -> BoolArray:
            return np.zeros(size, dtype=np.bool_)

        def level() -> Float32Array:
            return np.zeros(size, dtype=np.float32)

        return cls(
            mask(), mask(), mask(), mask(), mask(), mask(), level(), level(), level(), level()
        )
