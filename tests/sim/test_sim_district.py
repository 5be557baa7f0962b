"""The district as a plant model: with the real engine in the loop walkers are lit, without
a controller they are not; either way the accounts cover the whole window."""

import numpy as np
import pytest

from controllers.engine import Engine
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from gateway.wire.payloads import PedestrianPayload
from sim.runs.district import District

STEP_S = 5.0
TWO_HOURS_S = 2 * 3600.0


def _district(site: SiteConfig, policy: Policy, start_s: float) -> District:
    return District(site, policy, start_s, start_s + TWO_HOURS_S, seed=4)


def _run_with_engine(district: District, site: SiteConfig, policy: Policy) -> None:
    """The controller applied in-process, as the gateway would over MQTT but without delay."""
    info = site.site
    engine = Engine(
        district.topology, policy, AstronomicalClock(info.latitude, info.longitude, info.timezone)
    )
    segment_of = {d: district.topology.index_of(dev.segment) for d, dev in site.devices.items()}
    now_s = district.start_s
    while now_s < district.end_s:
        now_s += STEP_S
        for message in district.step(now_s):
            kind, device = message.topic.split("/")[-2:]
            if kind != "pedestrian":
                continue
            payload = PedestrianPayload.model_validate_json(message.payload)
            if payload.count:
                forward = 1 if payload.direction == "forward" else -1
                engine.detect(np.array([segment_of[device]]), np.array([forward]), now_s)
        step = engine.step(now_s)
        for i in np.flatnonzero(np.abs(step.level - district.lamps.level(now_s)) > 1e-3):
            district.lamps.command(int(i), float(step.level[i]), float(step.ramp_s[i]), now_s)


def test_engine_in_the_loop_lights_walkers_and_saves(
    demo_site: SiteConfig, demo_policy: Policy, midnight_s: float
) -> None:
    """The demo site and policy with the engine in the loop: walkers are almost always under
    full light, and energy is saved against always-on."""
    district = _district(demo_site, demo_policy, midnight_s - 3600)
    _run_with_engine(district, demo_site, demo_policy)
    assert district.walkers.total > 20
    assert district.metrics.comfort > 0.95
    assert district.metrics.energy.saving_vs_always_on > 0.2


def test_without_a_controller_lamps_stay_off(
    demo_site: SiteConfig, demo_policy: Policy, midnight_s: float
) -> None:
    """Nobody commands the lamps: nothing is lit, nobody walks under full light."""
    district = _district(demo_site, demo_policy, midnight_s)
    district.step(district.end_s)
    assert district.walkers.total > 5
    assert district.metrics.comfort == 0.0
    assert district.lamps.level(district.end_s).max() == 0.0


def test_a_long_gap_is_walked_in_substeps(
    demo_site: SiteConfig, demo_policy: Policy, midnight_s: float
) -> None:
    """One call covering two hours books exactly two hours, in steps no longer than the
    maximum, so no walker is booked for longer than it walked."""
    district = _district(demo_site, demo_policy, midnight_s)
    district.step(district.end_s)
    energy = district.metrics.energy
    rated_kw = float(district.topology.rated_power_w.sum()) / 1000
    assert float(energy.always_on_kwh.sum()) == pytest.approx(rated_kw * 2)
    assert district.metrics.worst_dark_s < 420 / 1.2 + district.max_step_s
