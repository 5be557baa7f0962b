"""Simulated lamp drivers: off until told, fade as told, fall back when commands stop."""

import numpy as np
import pytest

from controllers.energy import power_w
from controllers.topology import Topology
from sim.devices.lamps import SimLamps

WATCHDOG_S = 900.0
T0_S = 1_000_000.0


def test_off_until_the_first_command(tiny_topology: Topology) -> None:
    """A lamp never commanded stays off, and its watchdog is not armed."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S)
    assert lamps.level(T0_S).tolist() == [0.0] * tiny_topology.size
    assert lamps.check_watchdog(T0_S + 10 * WATCHDOG_S) == []
    assert lamps.level(T0_S + 10 * WATCHDOG_S).max() == 0.0


def test_command_fades_to_level_and_reports_target(tiny_topology: Topology) -> None:
    """A command ramps the level linearly and the report gives the target and its power."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S)
    report = lamps.command(2, 0.5, 10.0, T0_S)
    assert lamps.level(T0_S + 5.0)[2] == pytest.approx(0.25)
    assert lamps.level(T0_S + 10.0)[2] == pytest.approx(0.5)
    expected_w = power_w(
        np.array([0.5]), tiny_topology.rated_power_w[2:3], tiny_topology.standby_power_w[2:3]
    )
    assert (report.segment, report.level, report.status) == (2, 0.5, "ok")
    assert report.power_w == pytest.approx(float(expected_w[0]))
    assert lamps.commands == 1


def test_watchdog_falls_back_after_silence_and_not_before(tiny_topology: Topology) -> None:
    """No fallback at the watchdog period; fallback to the safe level just after it."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S, fallback_ramp_s=0.0)
    lamps.command(0, 0.3, 0.0, T0_S)
    assert lamps.check_watchdog(T0_S + WATCHDOG_S) == []
    assert lamps.level(T0_S + WATCHDOG_S)[0] == pytest.approx(0.3)
    reports = lamps.check_watchdog(T0_S + WATCHDOG_S + 1.0)
    assert [(r.segment, r.level, r.status) for r in reports] == [(0, 1.0, "fallback")]
    assert lamps.level(T0_S + WATCHDOG_S + 1.0)[0] == pytest.approx(1.0)
    assert lamps.fallback.tolist() == [True] + [False] * (tiny_topology.size - 1)


def test_watchdog_reports_each_fallback_once(tiny_topology: Topology) -> None:
    """A lamp already in fallback is not reported again at the next check."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S)
    lamps.command(1, 0.3, 0.0, T0_S)
    assert len(lamps.check_watchdog(T0_S + WATCHDOG_S + 1.0)) == 1
    assert lamps.check_watchdog(T0_S + 2 * WATCHDOG_S) == []


def test_refresh_keeps_the_watchdog_quiet(tiny_topology: Topology) -> None:
    """A refresh within the period restarts it (the gateway refreshes every 300 s)."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S)
    lamps.command(0, 0.3, 0.0, T0_S)
    lamps.command(0, 0.3, 0.0, T0_S + 300.0)
    assert lamps.check_watchdog(T0_S + WATCHDOG_S + 1.0) == []


def test_a_command_ends_the_fallback(tiny_topology: Topology) -> None:
    """When the controller comes back, its command replaces the fallback level."""
    lamps = SimLamps(tiny_topology, watchdog_s=WATCHDOG_S, fallback_ramp_s=0.0)
    lamps.command(0, 0.3, 0.0, T0_S)
    lamps.check_watchdog(T0_S + WATCHDOG_S + 1.0)
    report = lamps.command(0, 0.2, 0.0, T0_S + 2000.0)
    assert (report.level, report.status) == (0.2, "ok")
    assert not lamps.fallback.any()
