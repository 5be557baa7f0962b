"""Staggered look-ahead: segments ahead rise as the fastest walker could reach them."""

import numpy as np

from tests.controllers.test_engine import NIGHT, detect, make_engine, raised

# Segments are 30 m; a 2 m/s walker entering long-1 enters long-2 after 15 s, long-3 after 30 s.
STAGGERED = {"lookahead_segments": 3, "fastest_walker_mps": 2.0, "lead_s": 5, "hold_s": 60}


def test_each_segment_ahead_opens_lead_s_before_the_fastest_walker_could_enter_it() -> None:
    """long-2 opens at 10 s, long-3 at 25 s, long-4 at 40 s; the walker's own at once."""
    engine = make_engine(presence=STAGGERED)
    detect(engine, "long-1", +1)
    assert raised(engine, NIGHT) == {"long-1"}
    assert raised(engine, NIGHT + 9.9) == {"long-1"}
    assert raised(engine, NIGHT + 10) == {"long-1", "long-2"}
    assert raised(engine, NIGHT + 25) == {"long-1", "long-2", "long-3"}
    assert raised(engine, NIGHT + 40) == {"long-1", "long-2", "long-3", "long-4"}
    assert raised(engine, NIGHT + 60) == set()  # all of them end with the hold


def test_without_a_fastest_walker_every_segment_ahead_rises_at_once() -> None:
    """The default keeps the plain look-ahead: the walker's segment and three ahead now."""
    engine = make_engine(presence={"lookahead_segments": 3})
    detect(engine, "long-1", +1)
    assert raised(engine, NIGHT) == {"long-1", "long-2", "long-3", "long-4"}


def test_a_later_walker_does_not_delay_a_window_already_running() -> None:
    """A second detection merges with the running window: the earlier start stays."""
    engine = make_engine(presence=STAGGERED)
    detect(engine, "long-1", +1)
    assert "long-3" in raised(engine, NIGHT + 26)
    detect(engine, "long-2", +1, NIGHT + 26)  # would open long-3 only at 26 + 10 s
    assert "long-3" in raised(engine, NIGHT + 27)
    assert "long-3" in raised(engine, NIGHT + 80)  # and it lasts to the later hold


def test_a_window_that_ended_does_not_reach_back() -> None:
    """After a window ended, a new detection opens the segment at its own time, not before."""
    engine = make_engine(presence=STAGGERED)
    detect(engine, "long-1", +1)
    assert raised(engine, NIGHT + 61) == set()
    detect(engine, "long-2", +1, NIGHT + 100)
    assert "long-3" not in raised(engine, NIGHT + 100)
    assert "long-3" in raised(engine, NIGHT + 110)


def test_staggered_windows_with_a_level_of_their_own_ahead() -> None:
    """With ahead_level set, unopened segments ahead stay at the night level too."""
    engine = make_engine(presence={**STAGGERED, "ahead_level": 0.6})
    detect(engine, "long-1", +1)
    step = engine.step(NIGHT + 12)
    level = {sid: float(v) for sid, v in zip(engine.topology.ids, step.level, strict=True)}
    assert level["long-1"] == 1.0
    assert np.isclose(level["long-2"], 0.6)
    assert np.isclose(level["long-3"], 0.3)


def test_turning_staggering_on_keeps_the_windows_already_open() -> None:
    """A reload that adds fastest_walker_mps leaves running look-ahead windows lit."""
    engine = make_engine(presence={"lookahead_segments": 3})
    detect(engine, "long-1", +1)
    assert raised(engine, NIGHT + 1) == {"long-1", "long-2", "long-3", "long-4"}
    staggered = make_engine(presence=STAGGERED).policy
    engine.replace_policy(staggered)
    assert raised(engine, NIGHT + 2) == {"long-1", "long-2", "long-3", "long-4"}
