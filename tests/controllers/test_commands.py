"""Which segments get a command: first contact, dead-band, on/off flips and refresh."""

import numpy as np

from controllers.commands import CommandFilter

DEADBAND = 0.05
REFRESH_S = 300.0


def due(flt: CommandFilter, levels: list[float], now_s: float) -> list[int]:
    segments: list[int] = flt.due(np.array(levels), now_s, DEADBAND, REFRESH_S).tolist()
    return segments


def test_first_call_sends_every_segment() -> None:
    """Nothing was ever sent, so every segment is due, zeros included."""
    assert due(CommandFilter(3), [0.0, 0.3, 1.0], 0.0) == [0, 1, 2]


def test_unchanged_levels_are_not_resent_until_refresh() -> None:
    """Same levels: nothing within refresh_s, everything at refresh_s."""
    flt = CommandFilter(2)
    due(flt, [0.3, 0.3], 0.0)
    assert due(flt, [0.3, 0.3], 1.0) == []
    assert due(flt, [0.3, 0.3], REFRESH_S - 1) == []
    assert due(flt, [0.3, 0.3], REFRESH_S) == [0, 1]
    assert due(flt, [0.3, 0.3], REFRESH_S + 1) == []


def test_changes_within_the_deadband_are_not_sent() -> None:
    """A change of at most the dead-band waits; a bigger one goes out at once."""
    flt = CommandFilter(3)
    due(flt, [0.3, 0.3, 0.3], 0.0)
    assert due(flt, [0.33, 0.26, 0.5], 10.0) == [2]


def test_deadband_is_measured_from_the_last_sent_level() -> None:
    """Small steps that add up past the dead-band are sent when they do."""
    flt = CommandFilter(1)
    due(flt, [0.30], 0.0)
    assert due(flt, [0.33], 1.0) == []
    assert due(flt, [0.36], 2.0) == [0]
    assert due(flt, [0.39], 3.0) == []


def test_on_off_flips_are_sent_even_inside_the_deadband() -> None:
    """Switching on from 0 or off to 0 always goes out, however small."""
    flt = CommandFilter(2)
    due(flt, [0.0, 0.01], 0.0)
    assert due(flt, [0.01, 0.0], 1.0) == [0, 1]


def test_refresh_is_per_segment() -> None:
    """A segment sent later is refreshed later."""
    flt = CommandFilter(2)
    due(flt, [0.3, 0.3], 0.0)
    due(flt, [0.3, 0.9], 100.0)
    assert due(flt, [0.3, 0.9], REFRESH_S) == [0]
    assert due(flt, [0.3, 0.9], 100.0 + REFRESH_S) == [1]


def test_forget_resends_everything() -> None:
    """After forget() (a reconnect) the next call sends every segment again."""
    flt = CommandFilter(3)
    due(flt, [0.0, 0.3, 1.0], 0.0)
    flt.forget()
    assert due(flt, [0.0, 0.3, 1.0], 1.0) == [0, 1, 2]
    assert due(flt, [0.0, 0.3, 1.0], 2.0) == []
