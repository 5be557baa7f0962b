"""Fixtures for the simulator tests: a tiny district and instants of a known night."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controllers.settings import Policy, SiteConfig
from controllers.settings.loader import load_model
from controllers.topology import Topology, topology_from_site

CONFIG = Path(__file__).resolve().parents[2] / "config"
PARIS = ZoneInfo("Europe/Paris")


def _local_s(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


@pytest.fixture
def midnight_s() -> float:
    """Deep in a winter night at the tiny and demo sites (lamps lit by the schedule)."""
    return _local_s("2025-01-16T00:00")


@pytest.fixture
def noon_s() -> float:
    """Broad daylight at the tiny and demo sites."""
    return _local_s("2025-01-16T12:00")


@pytest.fixture
def tiny_site() -> SiteConfig:
    """Two streets: `a` with four 30 m segments (listed out of order), `b` with two of 50 m."""
    segment = {"lamps": 1, "rated_power_w": 100, "standby_power_w": 0}
    return SiteConfig.model_validate(
        {
            "site": {
                "id": "tiny",
                "latitude": 47.47,
                "longitude": -0.55,
                "timezone": "Europe/Paris",
            },
            "segments": [
                {"id": "a-2", "street": "a", "order": 2, "length_m": 30, **segment},
                {"id": "a-1", "street": "a", "order": 1, "length_m": 30, **segment},
                {"id": "a-3", "street": "a", "order": 3, "length_m": 30, **segment},
                {"id": "a-4", "street": "a", "order": 4, "length_m": 30, **segment},
                {"id": "b-1", "street": "b", "order": 1, "length_m": 50, **segment},
                {"id": "b-2", "street": "b", "order": 2, "length_m": 50, **segment},
            ],
            "devices": {
                "ped-a1": {"kind": "pedestrian", "segment": "a-1"},
                "ped-a3": {"kind": "pedestrian", "segment": "a-3"},
                "ped-b2": {"kind": "pedestrian", "segment": "b-2"},
                "bin-a2": {
                    "kind": "bin",
                    "segment": "a-2",
                    "empty_distance_mm": 1000,
                    "full_distance_mm": 100,
                },
                "water-b1": {"kind": "water", "segment": "b-1"},
            },
        }
    )


@pytest.fixture
def tiny_topology(tiny_site: SiteConfig) -> Topology:
    return topology_from_site(tiny_site)


@pytest.fixture
def demo_site() -> SiteConfig:
    return load_model(SiteConfig, (CONFIG / "site.yaml").read_text(), "site.yaml")


@pytest.fixture
def demo_policy() -> Policy:
    return load_model(Policy, (CONFIG / "policy.yaml").read_text(), "policy.yaml")
