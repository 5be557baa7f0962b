"""Fixtures of the end-to-end tests (helpers that are not fixtures: `tests/e2e/support.py`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Embedded, Mosquitto, new_broker


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto | Embedded]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = new_broker(workdir)
    broker.start()
    yield broker
    broker.stop()
