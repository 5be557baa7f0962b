"""Offline mode: deterministic for a seed, exact counting through the gateway's own intake in
every wire format, and the lamps' watchdog when the broker is away."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controllers.settings import Policy
from controllers.settings.loader import load_model
from sim.runs.run import Loaded, load, run_offline, summary_of
from sim.world.walkers import Entries, Walkers

POLICY = Policy.model_validate(
    {"presence": {"hold_s": 60, "lookahead_segments": 2}, "schedule": {"night_level": 0.3}}
)
HOUR_S = 3600.0


def _scenario(tmp_path: Path, extra: str = "", counter: str = "") -> Loaded:
    """Two streets in Angers, counters on a few segments; `extra` is appended."""
    counter = counter or (
        "  - {id: c-a1, segment: a-01, latency_s: [0.2, 1.0]}\n"
        "  - {id: c-a3, segment: a-03, format: senml}\n"
        "  - {id: c-b2, segment: b-02, format: chirpstack, miss_rate: 0.05, false_per_h: 3}\n"
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "name: tiny\n"
        "night: {date: 2025-01-15}\n"
        "place: {id: tiny, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}\n"
        "streets:\n"
        "  - {id: a, start: [47.4700, -0.5500], end: [47.4700, -0.5480], segment_length_m: 30,"
        " rated_power_w: 50, rate_per_h: [60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,"
        " 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60]}\n"
        "  - {id: b, start: [47.4705, -0.5490], end: [47.4690, -0.5490], segment_length_m: 40,"
        " rated_power_w: 50, lighting_class: P3, rate_per_h: [30, 30, 30, 30, 30, 30, 30, 30,"
        " 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]}\n"
        "junctions: [{streets: [a, b], at: [47.4700, -0.5490]}]\n"
        "walking: {stop_probability: 0.05, turn_probability: 0.3}\n"
        f"counters:\n{counter}" + extra
    )
    return load(path)


def _midnight_hour(loaded: Loaded) -> tuple[float, float]:
    """An hour in the middle of the scenario's night, when everything is lit."""
    middle = (loaded.start_s + loaded.end_s) / 2
    return middle, middle + HOUR_S


def _summary(loaded: Loaded, seed: int) -> dict[str, Any]:
    result = run_offline(loaded.world, POLICY, _midnight_hour(loaded), seed)
    return summary_of(result, loaded, "test", seed)


def test_same_seed_same_summary(tmp_path: Path) -> None:
    """Two runs with one seed write the same summary.json; another seed does not."""
    loaded = _scenario(tmp_path, "faults: {duplicates: 0.05, reorder: 0.05, malformed: 0.02}\n")
    first = json.dumps(_summary(loaded, 5), sort_keys=True)
    assert first == json.dumps(_summary(loaded, 5), sort_keys=True)
    assert first != json.dumps(_summary(loaded, 6), sort_keys=True)
    data = json.loads(first)
    for key in (
        "energy_kwh",
        "always_on_kwh",
        "static_kwh",
        "oracle_kwh",
        "saving_vs_always_on",
        "energy_vs_oracle",
        "comfort",
        "worst_dark_s",
        "commands",
        "walkers",
    ):
        assert key in data
    assert data["oracle_kwh"] <= data["energy_kwh"] <= data["always_on_kwh"]
    assert data["gateway"]["rejected_bad_json"] > 0 and data["gateway"]["duplicates"] > 0


@pytest.mark.parametrize("fmt", ["native", "senml", "chirpstack", "tts"])
def test_a_perfect_counter_counts_every_walker_exactly_once(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the gateway's intake, a perfect counter's readings add up to exactly the
    walkers that entered its segment, each counted once, whatever the wire format."""
    loaded = _scenario(tmp_path, counter=f"  - {{id: c, segment: a-04, format: {fmt}}}\n")
    entered: set[int] = set()
    segment = [s.id for s in loaded.world.site.segments].index("a-04")
    original = Walkers.step

    def watched(self: Walkers, now_s: float, dt_s: float) -> Entries:
        entries = original(self, now_s, dt_s)
        entered.update(entries.walker[entries.segment == segment].tolist())
        return entries

    monkeypatch.setattr(Walkers, "step", watched)
    result = run_offline(loaded.world, POLICY, _midnight_hour(loaded), seed=2)
    assert len(entered) > 20
    assert result.pipeline.counted["c"] == len(entered)
    assert result.district.counters.detected.sum() == len(entered)


def test_lamps_fall_back_when_the_broker_is_away_longer_than_their_watchdog(
    tmp_path: Path,
) -> None:
    """A 30 min broker outage: no command reaches the lamps, they fall back after their
    15 min watchdog, the held sensor messages arrive afterwards and service resumes."""
    outage = "faults: {broker_outage: [{at_s: 600, for_s: 1800}]}\nlamps: {watchdog_s: 15m}\n"
    loaded = _scenario(tmp_path, outage)
    start_s, _ = _midnight_hour(loaded)
    result = run_offline(loaded.world, POLICY, (start_s, start_s + 3000), seed=1)
    assert result.lamp_fallbacks == loaded.world.site.segments.__len__()
    assert result.held_messages > 0
    after = [c for c in result.commands if c.time_s >= start_s + 2400]
    assert len({c.segment for c in after}) == len(loaded.world.site.segments)
    assert not result.district.lamps.fallback.any()


def test_oracle_and_comfort_by_construction(tmp_path: Path) -> None:
    """Lamps always at the required level give comfort 1 and energy ≥ the oracle; the oracle
    is below the static baseline whenever some segment was empty some of the time."""
    loaded = _scenario(tmp_path)
    always = load_model(Policy, "schedule: {night_level: 1.0}\n", "p.yaml")
    result = run_offline(loaded.world, always, _midnight_hour(loaded), seed=3)
    data = summary_of(result, loaded, "always", 3)
    assert data["comfort"] == 1.0 and data["worst_dark_s"] == 0.0
    assert data["energy_kwh"] == pytest.approx(data["static_kwh"], rel=1e-3)
    assert data["oracle_kwh"] < data["static_kwh"]
    assert np.isclose(data["energy_vs_oracle"], data["energy_kwh"] / data["oracle_kwh"], rtol=1e-3)


def test_a_dead_lamp_leaves_its_walkers_in_the_dark(tmp_path: Path) -> None:
    """With the lamps of a-02 dead, every walker crossing it is under-lit for the whole
    segment, and comfort drops by about that segment's share of walker time."""
    healthy = _summary(_scenario(tmp_path), 4)
    broken = _summary(_scenario(tmp_path, "faults: {lamp_failures: [a-02]}\n"), 4)
    assert broken["worst_dark_s"] >= 30 / 1.6 - 1
    assert broken["comfort"] < healthy["comfort"] - 0.05
    assert broken["energy_kwh"] < healthy["energy_kwh"]
