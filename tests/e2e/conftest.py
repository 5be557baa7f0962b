"""Fixtures of the end-to-end tests (helpers that are not fixtures: `tests/e2e/support.py`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Embedded, Mosquitto, Victoria, new_broker, victoria_path


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto | Embedded]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = new_broker(workdir)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def deduplicating_victoria(tmp_path: Path) -> Iterator[Victoria]:
    """VictoriaMetrics told to keep one sample per series and millisecond, as the README says
    a database behind Luciole should be."""
    binary = victoria_path()
    if binary is None:
        pytest.skip("victoria-metrics is not installed (apt-get install victoria-metrics)")
    server = Victoria(binary, tmp_path / "vm", flags=("-dedup.minScrapeInterval=1ms",))
    server.start()
    yield server
    server.stop()
