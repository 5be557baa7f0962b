"""The accelerated clock: simulated epoch seconds running `speed` times faster."""

import asyncio

import pytest

from sim.runs.clock import AcceleratedClock


class _Monotonic:
    def __init__(self) -> None:
        self.real_s = 100.0

    def __call__(self) -> float:
        return self.real_s


def test_now_runs_speed_times_faster() -> None:
    """One real second later, `speed` simulated seconds have passed since `start_s`."""
    real = _Monotonic()
    clock = AcceleratedClock(1_700_000_000.0, 600.0, monotonic=real)
    assert clock.now() == 1_700_000_000.0
    real.real_s += 1.5
    assert clock.now() == 1_700_000_900.0


async def test_sleep_takes_simulated_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sleeping 60 simulated seconds at ×600 waits 0.1 real seconds."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    await AcceleratedClock(0.0, 600.0).sleep(60.0)
    assert slept == [pytest.approx(0.1)]


def test_speed_must_be_positive() -> None:
    """A zero or negative speed is refused with the value in the message."""
    with pytest.raises(ValueError, match="got 0"):
        AcceleratedClock(0.0, 0.0)
