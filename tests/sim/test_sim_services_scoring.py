"""Scoring the services' detections: known numbers on a hand-made truth of three days, two
bins and two meters (from epoch 0, UTC)."""

import math

import numpy as np
import pytest

from sim.devices.services import ServicesTruth
from sim.devices.services_bins import FillModel
from sim.report.services import Detections, score
from sim.report.services_report import SCORES

H = 3600.0


def _hand_truth() -> ServicesTruth:
    """bin-a fills 2 %/h from 10 %: full (90 %) at 40 h, overflowing at 45 h, emptied at 50 h.
    bin-b fills 1 %/h from 0: emptied at 35 h (35 % full), its 60 h visit missed. m-1 leaks
    50 L/h from 10 h on; m-2 bursts from 20 h to 22 h and stops counting at 1 h."""
    rate = np.array([[0.02], [0.01]]) * np.ones((2, 72))
    gain = np.concatenate((np.zeros((2, 1)), np.cumsum(rate, axis=1)), axis=1)
    model = FillModel(
        0.0,
        gain,
        (np.array([0.0, 50 * H]), np.array([0.0, 35 * H])),
        (np.array([0.1, 0.0]), np.array([0.0, 0.0])),
    )
    edges = H * np.arange(73)
    return ServicesTruth(
        start_s=0.0,
        end_s=72 * H,
        timezone="UTC",
        full_at=0.9,
        bin_period_s=H,
        meter_period_s=900.0,
        bin_ids=("bin-a", "bin-b"),
        meter_ids=("m-1", "m-2"),
        emptyings=[("bin-b", 35 * H), ("bin-a", 50 * H)],
        emptied_from=[0.35, 1.0],
        missed_pickups=[("bin-b", 60 * H)],
        visits=[("bin-b", 35 * H, True), ("bin-a", 50 * H, True), ("bin-b", 60 * H, False)],
        fill=np.array([model.fill_at(b, edges) for b in (0, 1)], dtype=np.float32),
        fulls=[("bin-a", 40 * H)],
        overflows=[("bin-a", 45 * H)],
        fires=[("bin-a", 5 * H, 6 * H)],
        tilts=[],
        leaks=[("m-1", 10 * H, None, 0.05)],
        bursts=[("m-2", 20 * H, 22 * H, 1.5)],
        backflows=[],
        stopped=[("m-2", 1 * H)],
        continuous=[],
        q3_m3h={"m-1": 2.5, "m-2": 2.5},
        meter_volume=np.zeros((2, 72), dtype=np.float32),
        meter_days=6.0,
        model=model,
    )


def _perfect() -> Detections:
    return Detections(
        alerts=[
            ("water_leak", "m-1", 10 * H, 35 * H, True),
            ("water_burst", "m-2", 20 * H, 20.5 * H, True),
            ("meter_stopped", "m-2", 1 * H, 50 * H, True),
            ("bin_fire", "bin-a", 5 * H, 5 * H, True),
            ("missed_pickup", "bin-b", 60 * H, 66 * H, True),
        ],
        emptyings=[("bin-b", 35.5 * H), ("bin-a", 50.2 * H)],
        forecasts={"bin-a": [(15 * H, 39 * H), (16 * H, 40 * H)], "bin-b": [(16 * H, math.nan)]},
        due=[(35 * H, ["bin-b"]), (50 * H, ["bin-a"]), (60 * H, ["bin-b"])],
    )


def test_the_hand_made_truth_is_consistent() -> None:
    truth = _hand_truth()
    assert truth.fill_before("bin-a", 50 * H) == pytest.approx(1.0)
    assert truth.fill_before("bin-b", 35 * H) == pytest.approx(0.35)
    [(full_bin, full_s)] = truth.model.crossings(0.9)
    [(overflow_bin, overflow_s)] = truth.model.crossings(1.0)
    assert (full_bin, overflow_bin) == (0, 0)
    assert (full_s, overflow_s) == pytest.approx((40 * H, 45 * H))


def test_perfect_detections_score_perfectly() -> None:
    scores = score(_hand_truth(), _perfect())
    assert set(scores) == set(SCORES)  # the report's table shows every score, once
    assert len(SCORES) == len(set(SCORES))
    expected = {
        "leak_recall": 1.0,
        "leak_false_per_1000_meter_days": 0.0,
        "leak_detection_delay_h": 25.0,
        "emptying_recall": 1.0,
        "emptying_precision": 1.0,
        "full_forecast_mae_h": 0.0,
        "full_forecast_coverage": 1.0,
        "collections_saved": 0.0,
        "overflows_added": 0.0,
        "burst_detected": 1.0,
        "stopped_detected": 1.0,
        "fire_detected": 1.0,
        "missed_pickup_recall": 1.0,
    }
    assert {k: scores[k] for k in expected} == pytest.approx(expected)
    assert math.isnan(scores["backflow_detected"])  # no backflow to find


def test_misses_and_false_alarms_count() -> None:
    detections = Detections(
        alerts=[
            ("water_leak", "m-1", 10 * H, 5 * H, True),  # raised before the leak: not it
            ("water_leak", "m-2", 30 * H, 40 * H, True),  # no leak there: false
            ("water_leak", "m-2", 30 * H, 41 * H, False),
            ("water_burst", "m-2", 20 * H, 23.5 * H, True),  # 1.5 h after the burst: too late
        ],
        emptyings=[("bin-b", 38 * H), ("bin-a", 50.2 * H), ("bin-a", 20 * H)],
        forecasts={"bin-a": [(16.8 * H, 42 * H)]},  # sampled 23.2 h before: too far off
        due=[(35 * H, []), (49.5 * H, []), (60 * H, ["bin-b"])],
    )
    scores = score(_hand_truth(), detections)
    assert scores["leak_recall"] == 0.0
    assert scores["leak_false_per_1000_meter_days"] == pytest.approx(1000.0 / 6.0)
    assert math.isnan(scores["leak_detection_delay_h"])
    assert scores["emptying_recall"] == 0.5  # bin-b's detection is 3 h after: no match
    assert scores["emptying_precision"] == pytest.approx(1 / 3)
    assert scores["full_forecast_coverage"] == 0.0 and math.isnan(scores["full_forecast_mae_h"])
    # Both made visits skipped; bin-a, left at 100 %, overflows until the end: one added.
    assert scores["collections_saved"] == pytest.approx(2 / 3)
    assert scores["overflows_added"] == 1.0
    assert scores["burst_detected"] == 0.0 and scores["fire_detected"] == 0.0


def test_forecast_error_is_in_hours_and_urgent_lists_can_come_from_forecasts() -> None:
    detections = Detections(forecasts={"bin-a": [(16 * H, 42 * H)], "bin-b": [(34.5 * H, 99 * H)]})
    scores = score(_hand_truth(), detections, horizon_s=86400.0)
    assert scores["full_forecast_mae_h"] == pytest.approx(2.0)
    # Only bin-b has a list near its 35 h visit (not urgent: skipped); the others have none.
    assert scores["collections_saved"] == pytest.approx(1 / 3)
    assert scores["overflows_added"] == 0.0  # 35 % + 25 h at 1 %/h stays below 100 %
