"""Overrides and traffic flows as stored state: put back by segment id, an expired override
left out, flows only into the same window."""

import pytest

from controllers.settings import Policy
from gateway.ingest.readings import PedestrianReading
from gateway.lighting import persist
from gateway.lighting.control import Lighting
from gateway.wire.payloads import OverrideMessage
from tests.gateway.test_lighting import NIGHT, POLICY, SITE

TRAFFIC = Policy.model_validate({**POLICY.model_dump(), "traffic": {"enabled": True}})


def _stored(lighting: Lighting, now_s: float) -> dict[str, str]:
    rows = [persist.overrides_row(lighting, now_s), persist.flows_row(lighting, now_s)]
    assert all(row.kind == "state" and row.uplink == persist.ROOM for row in rows)
    return {row.device_id: row.body for row in rows}


def _walkers(lighting: Lighting, count: int, at_s: float) -> None:
    reading = PedestrianReading(
        device_id="ped-1", segment="a-2", ts_s=at_s, count=count, period_s=60
    )
    lighting.accept(reading, at_s)


def test_an_override_comes_back_with_its_expiry_and_an_expired_one_does_not() -> None:
    before = Lighting(SITE, POLICY, NIGHT)
    before.override("a-3", OverrideMessage(level=0.8, duration_s=600), NIGHT)
    before.override("b", OverrideMessage(level=0.5, duration_s=60), NIGHT)
    stored = _stored(before, NIGHT + 1)
    after = Lighting(SITE, POLICY, NIGHT + 120)
    overridden, _ = persist.restore(after, stored, NIGHT + 120)
    assert overridden == 1  # street b's minute is over
    segments, levels, until_s = after.engine.overrides(NIGHT + 120)
    assert [after.topology.ids[i] for i in segments] == ["a-3"]
    assert float(levels[0]) == pytest.approx(0.8) and float(until_s[0]) == NIGHT + 600
    step = after.engine.step(NIGHT + 120)
    assert float(step.level[after.topology.positions["a-3"]]) == pytest.approx(0.8)


def test_the_flows_come_back_into_the_same_window_only() -> None:
    before = Lighting(SITE, TRAFFIC, NIGHT)
    _walkers(before, 40, NIGHT + 10)
    _walkers(before, 25, NIGHT + 200)
    stored = _stored(before, NIGHT + 300)
    after = Lighting(SITE, TRAFFIC, NIGHT + 400)
    assert persist.restore(after, stored, NIGHT + 400) == (0, True)
    slot = after.engine.flow.slot[after.topology.positions["a-2"]]
    assert (
        after.engine.flow.per_h(slot.reshape(1))[0]
        == before.engine.flow.per_h(slot.reshape(1))[0]
        > 0
    )
    wider = Policy.model_validate({**TRAFFIC.model_dump(), "traffic": {"window_s": 1800}})
    assert persist.restore(Lighting(SITE, wider, NIGHT + 400), stored, NIGHT + 400)[1] is False


LEARNING = Policy.model_validate(
    {**POLICY.model_dump(), "presence": {"occupancy": True, "learn_speeds": True}}
)


def test_learnt_speeds_come_back_by_street_after_a_restart_or_a_reload() -> None:
    """The samples of each street are stored and put back: the same speeds are reported by
    the next run's lighting, and by a reload's (carry_over)."""
    before = Lighting(SITE, LEARNING, NIGHT)
    assert before.engine.occupancy is not None
    speeds = before.engine.occupancy.speeds
    for sample in range(40):
        speeds.add(0, 1.0 + sample / 40)
    assert speeds.report()[0].fast_mps is not None  # enough samples: learnt
    row = persist.speeds_row(before, NIGHT + 60)
    assert row is not None and row.device_id == persist.SPEEDS
    after = Lighting(SITE, LEARNING, NIGHT + 120)
    assert persist.restore_speeds(after, {row.device_id: row.body}) == 40
    assert after.engine.occupancy is not None
    assert after.engine.occupancy.speeds.report() == speeds.report()
    reloaded = Lighting(SITE, LEARNING, NIGHT + 180)
    persist.carry_over(after, reloaded, NIGHT + 180)
    assert reloaded.engine.occupancy is not None
    assert reloaded.engine.occupancy.speeds.report() == speeds.report()


def test_a_policy_that_learns_nothing_stores_no_speeds() -> None:
    """Without occupancy there is no speeds row, and a stored one is left alone."""
    plain = Lighting(SITE, POLICY, NIGHT)
    assert persist.speeds_row(plain, NIGHT) is None
    assert persist.restore_speeds(plain, {persist.SPEEDS: '{"version": 1, "streets": {}}'}) == 0
