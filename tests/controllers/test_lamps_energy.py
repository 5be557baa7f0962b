"""Lamps fade linearly toward their commands; energy is counted against an always-on baseline."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.energy import EnergyMeter, power_w
from controllers.lamps import LampBank


def command(bank: LampBank, lamps: list[int], level: float, ramp_s: float, now_s: float) -> None:
    n = len(lamps)
    bank.command(np.array(lamps), np.full(n, level), np.full(n, ramp_s), now_s)


def test_fade_is_linear_and_holds_at_the_target() -> None:
    """From 0 to 1 over 10 s: a quarter at 2.5 s, the target at 10 s and after."""
    bank = LampBank(2)
    command(bank, [0], 1.0, 10.0, now_s=100.0)
    assert bank.level(100.0).tolist() == [0.0, 0.0]
    assert bank.level(102.5)[0] == pytest.approx(0.25)
    assert bank.level(107.5)[0] == pytest.approx(0.75)
    assert bank.level(110.0)[0] == 1.0
    assert bank.level(200.0)[0] == 1.0
    assert bank.level(105.0)[1] == 0.0  # an uncommanded lamp does not move
    assert bank.target.tolist() == [1.0, 0.0]


def test_new_command_mid_fade_starts_from_the_current_level() -> None:
    """A command at half-way fades from 0.5, not from the old start or the old target."""
    bank = LampBank(1)
    command(bank, [0], 1.0, 10.0, now_s=0.0)
    command(bank, [0], 0.0, 5.0, now_s=5.0)
    assert bank.level(5.0)[0] == pytest.approx(0.5)
    assert bank.level(7.5)[0] == pytest.approx(0.25)
    assert bank.level(10.0)[0] == 0.0


def test_zero_ramp_jumps_at_once() -> None:
    """ramp_s 0 (or negative) reaches the target immediately."""
    bank = LampBank(2, initial_level=0.3)
    command(bank, [0], 0.8, 0.0, now_s=10.0)
    command(bank, [1], 0.1, -5.0, now_s=10.0)
    assert bank.level(10.0).tolist() == pytest.approx([0.8, 0.1])


def test_initial_level_applies_to_every_lamp() -> None:
    """A new bank sits at its initial level with that as target."""
    bank = LampBank(3, initial_level=0.4)
    assert bank.level(0.0).tolist() == [0.4, 0.4, 0.4]
    assert bank.target.tolist() == [0.4, 0.4, 0.4]


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0.1, 1000), st.floats(0, 1))
def test_fade_stays_between_start_and_target(
    start: float, target: float, ramp: float, share: float
) -> None:
    """At any share of the ramp the level is start + share * (target - start)."""
    bank = LampBank(1, initial_level=start)
    command(bank, [0], target, ramp, now_s=0.0)
    level = bank.level(share * ramp)[0]
    assert level == pytest.approx(start + share * (target - start), abs=1e-9)
    assert min(start, target) - 1e-12 <= level <= max(start, target) + 1e-12


def test_power_is_linear_between_standby_and_rated() -> None:
    """0 draws standby, 1 draws rated, half way draws the mean; levels are clipped to 0..1."""
    rated = np.array([100.0, 100.0, 100.0, 100.0])
    standby = np.array([2.0, 2.0, 2.0, 2.0])
    drawn = power_w(np.array([0.0, 1.0, 0.5, 1.5]), rated, standby)
    assert drawn.tolist() == pytest.approx([2.0, 100.0, 51.0, 100.0])
    assert power_w(np.array([-1.0]), rated[:1], standby[:1])[0] == 2.0


def test_always_on_baseline_counts_rated_power_while_lit() -> None:
    """An hour lit costs the baseline rated power even when the lamp is dimmed."""
    meter = EnergyMeter(np.array([100.0, 50.0]), np.array([0.0, 0.0]))
    meter.add(np.array([0.3, 0.3]), lit=True, dt_s=3600)
    assert meter.always_on_kwh.tolist() == pytest.approx([0.1, 0.05])
    assert meter.energy_kwh.tolist() == pytest.approx([0.03, 0.015])


def test_baseline_counts_standby_when_not_lit() -> None:
    """By day both the baseline and the actual lamps draw only standby."""
    meter = EnergyMeter(np.array([100.0]), np.array([1.0]))
    meter.add(np.array([0.0]), lit=False, dt_s=3600)
    assert meter.always_on_kwh.tolist() == pytest.approx([0.001])
    assert meter.energy_kwh.tolist() == pytest.approx([0.001])


def test_saving_for_a_constant_dimmed_level() -> None:
    """At a constant 0.3 with zero standby, 70 % of the always-on energy is saved."""
    meter = EnergyMeter(np.array([36.0, 48.0, 72.0]), np.zeros(3))
    for _ in range(10):
        meter.add(np.full(3, 0.3), lit=True, dt_s=60)
    assert meter.saving_vs_always_on == pytest.approx(0.7)


def test_saving_is_zero_before_anything_was_lit() -> None:
    """With no baseline yet the saving is 0, not a division by zero."""
    meter = EnergyMeter(np.array([36.0]), np.zeros(1))
    assert meter.saving_vs_always_on == 0.0
    meter.add(np.array([0.0]), lit=False, dt_s=600)
    assert meter.saving_vs_always_on == 0.0
