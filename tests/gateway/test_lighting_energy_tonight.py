"""Tonight's energy, for the console: counted from the last dusk the daemon saw."""

from gateway.lighting.control import Lighting
from gateway.lighting.energy import EnergyLog
from tests.gateway.test_lighting import NIGHT, NOON, POLICY, SITE


def test_tonight_starts_at_dusk_and_the_day_before_is_not_in_it() -> None:
    lighting = Lighting(SITE, POLICY, NOON)
    log = EnergyLog(lighting.topology, NOON)
    for now_s in (NOON, NOON + 3600):  # by day: standby only, before any dusk
        lighting.commands(now_s)
        assert lighting.last_step is not None
        log.tick(lighting.last_step, now_s)
    assert log.night_since_s == NOON
    day_kwh = float(log.tonight()["energy_kwh"].sum())
    for now_s in (NIGHT, NIGHT + 3600):  # lit: tonight begins at the first lit step
        lighting.commands(now_s)
        assert lighting.last_step is not None
        log.tick(lighting.last_step, now_s)
    assert log.night_since_s == NIGHT
    tonight = log.tonight()
    lit_hour_kwh = float(tonight["energy_kwh"].sum())
    assert lit_hour_kwh > 0
    assert float(log.meter.energy_kwh.sum()) > lit_hour_kwh + day_kwh / 2
    assert float(tonight["always_on_kwh"].sum()) >= lit_hour_kwh
