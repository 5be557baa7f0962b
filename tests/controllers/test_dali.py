"""DALI arc power levels follow the IEC 62386-102 logarithmic curve."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from controllers.dali import arc_power, light_level


def test_curve_end_points_and_off() -> None:
    """254 is full light, 1 is 0.1 %, 0 is off; 10 % of light is level 170."""
    assert arc_power(np.array([1.0, 0.001, 0.0, 0.1])).tolist() == [254, 1, 0, 170]
    assert np.allclose(light_level(np.array([254, 1, 0])), [1.0, 0.001, 0.0])


def test_any_light_at_all_is_at_least_level_1() -> None:
    """A level below the curve's 0.1 % still lights (level 1) rather than switching off."""
    assert arc_power(np.array([1e-6])).tolist() == [1]


@given(st.floats(min_value=0.001, max_value=1.0))
def test_round_trip_is_within_half_a_step(level: float) -> None:
    """level → arc → level lands within half a curve step (about 1.4 %) of where it started."""
    back = float(light_level(arc_power(np.array([level])))[0])
    assert abs(np.log10(back / level)) <= 0.5 / (253 / 3) + 1e-12


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=20))
def test_arc_power_never_falls_when_the_level_rises(levels: list[float]) -> None:
    """The mapping is monotonic."""
    ordered = np.sort(np.array(levels))
    assert (np.diff(arc_power(ordered).astype(int)) >= 0).all()
