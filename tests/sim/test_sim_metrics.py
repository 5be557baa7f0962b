"""Night accounts: energy against always-on, walker comfort, darkest stretch, bounded samples."""

import numpy as np
import pytest

from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import Topology
from sim.report.metrics import Metrics


def _metrics(site: SiteConfig, topology: Topology, max_samples: int = 2000) -> Metrics:
    info = site.site
    astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
    return Metrics(topology, Policy(), astro, window_s=3600.0, max_samples=max_samples)


def _ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_comfort_and_darkest_stretch_by_hand(
    tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """Two walkers, one under full light and one under 30 %, then both lit: 3 of 4 walker
    intervals were under full light and the darkest stretch is one interval."""
    metrics = _metrics(tiny_site, tiny_topology)
    level = np.full(tiny_topology.size, 0.3)
    level[0] = 1.0
    metrics.add(midnight_s, 10.0, level, _ids(0, 1), _ids(0, 1))
    assert (metrics.walker_s, metrics.comfort, metrics.worst_dark_s) == (20.0, 0.5, 10.0)
    metrics.add(midnight_s + 10, 10.0, np.ones(tiny_topology.size), _ids(0, 1), _ids(0, 1))
    assert metrics.comfort == pytest.approx(0.75)
    assert metrics.worst_dark_s == 10.0


def test_darkest_stretch_is_continuous_per_walker(
    tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """Dark time adds up while a walker stays in the dark and restarts once it is lit."""
    metrics = _metrics(tiny_site, tiny_topology)
    dark, lit = np.zeros(tiny_topology.size), np.ones(tiny_topology.size)
    for i, level in enumerate([dark, dark, lit, dark]):
        metrics.add(midnight_s + 10 * i, 10.0, level, _ids(5), _ids(2))
    assert metrics.worst_dark_s == 20.0
    # The required level (P4 at its rated photometry: 100 %) within the wire's rounding
    # counts; 99 % does not.
    metrics.add(midnight_s + 40, 10.0, np.full(tiny_topology.size, 0.996), _ids(5), _ids(2))
    assert metrics.full_light_walker_s == 20.0
    metrics.add(midnight_s + 50, 10.0, np.full(tiny_topology.size, 0.99), _ids(5), _ids(2))
    assert metrics.full_light_walker_s == 20.0


def test_daylight_walkers_do_not_count(
    tiny_site: SiteConfig, tiny_topology: Topology, noon_s: float
) -> None:
    """By day walkers are neither comfortable nor in the dark: comfort stays undefined (1.0)."""
    metrics = _metrics(tiny_site, tiny_topology)
    metrics.add(noon_s, 60.0, np.zeros(tiny_topology.size), _ids(0), _ids(1))
    assert not metrics.lit
    assert (metrics.walker_s, metrics.comfort, metrics.worst_dark_s) == (0.0, 1.0, 0.0)


def test_energy_against_always_on(
    tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """Six 100 W segments for one hour at night: half of them at 50 % saves a quarter."""
    metrics = _metrics(tiny_site, tiny_topology)
    level = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])
    metrics.add(midnight_s, 3600.0, level, _ids(), _ids())
    assert float(metrics.energy.energy_kwh.sum()) == pytest.approx(0.45)
    assert float(metrics.energy.always_on_kwh.sum()) == pytest.approx(0.6)
    assert metrics.energy.saving_vs_always_on == pytest.approx(0.25)


def test_series_stays_bounded(
    tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """However many steps, the plot samples stay under twice the budget, in time order."""
    metrics = _metrics(tiny_site, tiny_topology, max_samples=50)
    level = np.zeros(tiny_topology.size)
    for i in range(5000):  # far more steps than the one-hour window planned for
        metrics.add(midnight_s + i * 5.0, 5.0, level, _ids(1), _ids(3))
    series = metrics.series()
    assert 25 <= len(series.time_s) < 100
    assert np.all(np.diff(series.time_s) > 0)
    assert series.level.shape == (len(series.time_s), tiny_topology.size)
    assert series.walkers[:, 3].tolist() == [1] * len(series.time_s)
