"""A month of bins and meters: the scenario loads, the messages agree with the truth they were
made from, seeds reproduce, the plots are drawn. The scoring: test_sim_services_scoring.py."""

import hashlib
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controllers.settings import ConfigError
from gateway.wire.payloads import BinPayload, WaterPayload
from sim.devices.services import ServicesDevices
from sim.report.services import Detections
from sim.report.services_plots import plot_bin, plot_meter
from sim.world.services import ServicesScenario, load_services_scenario, scenario_kind
from sim.world.services_district import build_services_world

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
PARIS = ZoneInfo("Europe/Paris")
H = 3600.0


def _scenario(seed: int = 3) -> ServicesScenario:
    """Eight days over the change to summer time (30 March), a dozen bins, forty meters."""
    streets = [
        {"id": "a", "start": [47.470, -0.550], "end": [47.471, -0.547], "busy": 1.6},
        {"id": "b", "start": [47.469, -0.550], "end": [47.468, -0.548], "busy": 0.8},
    ]
    return ServicesScenario.model_validate(
        {
            "kind": "services",
            "name": "tiny-services",
            "start": "2025-03-24",
            "days": 8,
            "seed": seed,
            "site": {"id": "tiny", "latitude": 47.47, "longitude": -0.55},
            "bins": {"count": 12, "streets": streets, "fires": 1, "tilts": 2},
            "meters": {"count": 40, "leak_share": 0.2, "continuous_share": 0.05},
        }
    )


@pytest.fixture(scope="module")
def devices() -> ServicesDevices:
    return ServicesDevices(build_services_world(_scenario()))


@pytest.fixture(scope="module")
def readings(devices: ServicesDevices) -> dict[str, list[dict[str, object]]]:
    """Every device's payloads, in order, from the messages."""
    found: dict[str, list[dict[str, object]]] = defaultdict(list)
    for message in devices.messages():
        found[message.topic.rsplit("/", 1)[1]].append(json.loads(message.payload))
    return found


def _series(rows: list[dict[str, object]], key: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([float(str(r["ts"])) for r in rows]),
        np.array([float(str(r.get(key, "nan"))) for r in rows]),
    )


def test_the_month_scenario_loads_and_says_what_it_is() -> None:
    path = SCENARIOS / "angers-services.yaml"
    scenario = load_services_scenario(path)
    assert scenario.kind == "services" and scenario.days == 30
    assert scenario.bins.count == 300 and scenario.meters.count == 300
    assert scenario_kind(path) == "services"
    assert scenario_kind(SCENARIOS / "angers-demo.yaml") == "night"
    world = build_services_world(scenario)
    assert world.site.problems() == []
    device = world.site.devices["meter-001"]
    assert device.q3_m3h in {2.5, 4.0} and device.kind == "water"
    assert world.site.devices["bin-001"].collection_days  # at least one day a week


def test_a_typo_in_the_scenario_is_an_error_with_its_line(tmp_path: Path) -> None:
    text = (SCENARIOS / "angers-services.yaml").read_text().replace("noise_mm:", "noise_m:")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: bins.noise_m: unknown key"):
        load_services_scenario(path)


def test_messages_are_native_payloads_in_time_order(devices: ServicesDevices) -> None:
    times, kinds = [], set()
    for message in devices.messages():
        kind = message.topic.split("/")[-2]
        kinds.add(kind)
        model = BinPayload if kind == "bin" else WaterPayload
        payload = model.model_validate_json(message.payload)
        assert payload.ts == message.ts_s
        assert message.topic.startswith("luciole/tiny/sensor/")
        times.append(message.ts_s)
    assert kinds == {"bin", "water"}
    assert times == sorted(times) and len(times) == devices.message_count
    truth = devices.truth
    assert truth.start_s <= times[0] and times[-1] < truth.end_s
    assert truth.fill.shape == (12, 8 * 24 - 1 + 1)  # 30 March has 23 hours


def test_seeds_reproduce() -> None:
    def digest(seed: int) -> str:
        made = ServicesDevices(build_services_world(_scenario(seed)))
        hashed = hashlib.sha256()
        for message in made.messages():
            hashed.update(message.topic.encode() + message.payload)
        return hashed.hexdigest()

    assert digest(3) == digest(3)
    assert digest(3) != digest(4)


def test_an_emptying_is_seen_in_the_distances(
    devices: ServicesDevices, readings: dict[str, list[dict[str, object]]]
) -> None:
    """The reading after the truck is further from the surface than the one before by more
    than the rule's 0.25 of the depth, when the truck found the bin at least 45 % full."""
    truth, depth = devices.truth, 1200.0 - 150.0
    tilted = {b for b, _, _ in truth.tilts}
    checked = 0
    for (bin_id, at_s), drop in zip(truth.emptyings, truth.emptied_from, strict=True):
        times, distance = _series(readings[bin_id], "distance_mm")
        before, after = np.flatnonzero(times < at_s), np.flatnonzero(times >= at_s)
        if bin_id in tilted or drop < 0.45 or not len(before) or not len(after):
            continue
        rise_mm = distance[after[0]] - distance[before[-1]]
        assert rise_mm > 0.25 * depth
        checked += 1
    assert checked >= 5


def test_readings_follow_the_true_fill(
    devices: ServicesDevices, readings: dict[str, list[dict[str, object]]]
) -> None:
    truth = devices.truth
    tilted = {b for b, _, _ in truth.tilts}
    for bin_id in truth.bin_ids:
        if bin_id in tilted:
            continue
        times, distance = _series(readings[bin_id], "distance_mm")
        fill = (1200.0 - distance) / 1050.0
        assert np.abs(fill - truth.fill_at(bin_id, times)).max() < 0.05  # 8 mm noise, 5 σ
    hours = truth.start_s + H * np.arange(truth.fill.shape[1])
    assert np.allclose(truth.fill[0], truth.fill_at(truth.bin_ids[0], hours), atol=1e-6)


def _hourly_deltas(rows: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray]:
    """(time, litres gained since the report an hour before) of each report."""
    times, total = _series(rows, "total_m3")
    litres = np.rint(total * 1000.0)
    return times[4:], litres[4:] - litres[:-4]


def test_a_leaking_meter_is_never_dry_by_the_hour(
    devices: ServicesDevices, readings: dict[str, list[dict[str, object]]]
) -> None:
    truth = devices.truth
    assert truth.leaks
    for meter, start_s, end_s, _ in truth.leaks:
        times, gained = _hourly_deltas(readings[meter])
        during = (times >= start_s + H) & (times < (truth.end_s if end_s is None else end_s))
        assert (gained[during] > 0).all(), meter
    for meter in truth.continuous:
        assert (_hourly_deltas(readings[meter])[1] > 0).all(), meter


def test_a_household_without_leak_has_a_dry_hour_every_night(
    devices: ServicesDevices, readings: dict[str, list[dict[str, object]]]
) -> None:
    truth, meters = devices.truth, devices.world.meters
    odd = {m for m, *_ in truth.leaks} | set(truth.continuous)
    odd |= {m for m, *_ in truth.bursts} | {m for m, *_ in truth.backflows}
    checked = 0
    for index, meter in enumerate(truth.meter_ids):
        if meter in odd or meters.business[index]:
            continue
        times, gained = _hourly_deltas(readings[meter])
        local = [datetime.fromtimestamp(t, PARIS) for t in times]
        dry_nights = {t.date() for t, g in zip(local, gained, strict=True) if t.hour < 6 and g == 0}
        assert dry_nights == {t.date() for t in local}, meter
        checked += 1
    assert checked >= 10


def test_backflow_runs_back_flagged_and_a_stopped_meter_stands_still(
    devices: ServicesDevices, readings: dict[str, list[dict[str, object]]]
) -> None:
    truth = devices.truth
    (meter, start_s, end_s, run_back_m3), *_ = truth.backflows
    rows = readings[meter]
    flagged = [r for r in rows if r.get("alarms") == ["backflow"]]
    assert flagged and all(start_s < float(str(r["ts"])) < end_s + 900.0 for r in flagged)
    times, total = _series(rows, "total_m3")
    first = int(np.flatnonzero(times > start_s)[0])
    last = int(np.flatnonzero(times < end_s + 900.0)[-1])
    ran_back_m3 = total[first - 1] - total[last]  # no use of water meanwhile
    assert ran_back_m3 == pytest.approx(run_back_m3, abs=0.0011)
    (stopped, from_s), *_ = truth.stopped
    times, total = _series(readings[stopped], "total_m3")
    assert len(set(total[times > from_s + 900.0])) == 1
    assert (np.diff(total) >= 0).all()


def test_plots_are_written(devices: ServicesDevices, tmp_path: Path) -> None:
    truth = devices.truth
    detections = Detections(
        alerts=[
            ("water_leak", truth.leaks[0][0], truth.leaks[0][1], truth.leaks[0][1] + 25 * H, True)
        ],
        emptyings=[(b, s + 1800.0) for b, s in truth.emptyings],
    )
    readings = devices.bin_fill_readings(truth.bin_ids[0])
    assert len(readings) == len(devices.bins.valid[0].nonzero()[0])
    plot_bin(truth, detections, truth.bin_ids[0], tmp_path / "bin.png", readings)
    plot_meter(truth, detections, truth.leaks[0][0], tmp_path / "meter.png")
    assert (tmp_path / "bin.png").stat().st_size > 10_000
    assert (tmp_path / "meter.png").stat().st_size > 10_000
