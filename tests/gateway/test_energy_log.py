"""Energy booked per tick and stored per interval, against the always-on and static baselines."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controllers.energy import EnergyMeter
from controllers.settings import Policy, SiteConfig
from gateway.lighting.control import Lighting
from gateway.lighting.energy import EnergyLog

NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "t", "latitude": 47.4712, "longitude": -0.5518, "timezone": "Europe/Paris"},
        "segments": [
            {
                "id": f"s{n}",
                "street": "m",
                "order": n,
                "length_m": 30,
                "rated_power_w": 100,
                "standby_power_w": 0,
            }
            for n in (1, 2)
        ],
        "devices": {"c": {"kind": "pedestrian", "segment": "s1"}},
    }
)


def test_static_baseline_is_the_schedule_alone() -> None:
    """One hour at 0.5 with a static level of 0.3: 50 Wh used, 30 Wh static, 100 Wh always-on."""
    meter = EnergyMeter(np.array([100.0]), np.array([0.0]))
    meter.add(np.array([0.5]), np.array([True]), 3600.0, np.array([0.3]))
    assert meter.energy_kwh.tolist() == pytest.approx([0.05])
    assert meter.static_kwh.tolist() == pytest.approx([0.03])
    assert meter.always_on_kwh.tolist() == pytest.approx([0.1])


def test_rows_hold_the_kwh_of_their_interval_per_segment_and_for_the_site() -> None:
    """Ten minutes at the night level (0.3), then the rows; the next rows start from zero."""
    policy = Policy.model_validate({"schedule": {"night_level": 0.3}, "presence": {"level": 1.0}})
    lighting = Lighting(SITE, policy, NIGHT)
    log = EnergyLog(lighting.topology, NIGHT)
    for t in range(0, 601, 60):
        lighting.commands(NIGHT + t)
        assert lighting.last_step is not None
        log.tick(lighting.last_step, NIGHT + t)
    rows = log.rows(NIGHT + 600)
    assert len(rows) == 3
    parsed = {json.loads(r.body)["segment"]: json.loads(r.body) for r in rows}
    assert parsed["s1"]["energy_kwh"] == pytest.approx(100 * 0.3 * 600 / 3.6e6, rel=1e-6)
    assert parsed["all"]["always_on_kwh"] == pytest.approx(2 * 100 * 600 / 3.6e6)
    assert parsed["all"]["static_kwh"] == pytest.approx(parsed["all"]["energy_kwh"])
    assert {r.kind for r in rows} == {"energy"}
    later = log.rows(NIGHT + 601)
    assert json.loads(later[0].body)["energy_kwh"] == 0.0
