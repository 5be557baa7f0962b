"""What the services' rules hand back: alerts that start or end, and events worth storing.

Every time in a change comes from the readings (a reading's time, an hour boundary, a
collection day's end, the last emptying plus a threshold), never from the moment the rule was
evaluated. Evaluated again from the same readings (after a restart that replays them) a rule
gives the same change, with the same times: the daemon can store and publish it again without
raising it twice.
"""

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Change:
    """An alert of `kind` on device `index` that started (`active`) or ended.

    `since_s` is when the condition began (a leak's first flowing hour, the reading that
    showed the fire); `at_s` when this change was established (the reading or hour that
    raised or cleared it). `details` are numbers worth showing (rate, volume, fill...)."""

    kind: str
    index: int
    active: bool
    since_s: float
    at_s: float
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """Something that happened once on device `index` at `at_s` (an emptying detected, a
    meter's own flag), with numbers worth storing."""

    kind: str
    index: int
    at_s: float
    details: dict[str, float] = field(default_factory=dict)
