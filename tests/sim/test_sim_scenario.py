"""Scenario files: the reference scenario builds from real data, counts CSVs read back onto
their calendar hours, and bad files say what is wrong without crashing."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings import ConfigError
from controllers.settings.loader import load_model
from sim.runs.run import load
from sim.runs.services import load_services
from sim.world.rates import CountsError, read_counts
from sim.world.scenario import Scenario
from sim.world.services import scenario_kind

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
AUCKLAND = ZoneInfo("Pacific/Auckland")


def test_reference_scenario_builds_its_site_from_real_places() -> None:
    """The Auckland scenario lays out its streets, puts the counter named after 210 Queen
    Street on the segment nearest that address, and frames the real night."""
    loaded = load(SCENARIOS / "auckland-cbd.yaml")
    site = loaded.world.site
    assert site.site.timezone == "Pacific/Auckland"
    assert site.devices["ped-queen-st-19"].segment == "queen-st-19"
    counted = {d.segment for d in site.devices.values() if d.kind == "pedestrian"}
    assert 0.3 < len(counted) / len(site.segments) < 0.6, "counters on some segments only"
    start = dt.datetime.fromtimestamp(loaded.start_s, AUCKLAND)
    end = dt.datetime.fromtimestamp(loaded.end_s, AUCKLAND)
    assert start.date() == dt.date(2024, 11, 22) and dt.time(19, 30) < start.time() < dt.time(
        20, 30
    )
    assert end.date() == dt.date(2024, 11, 23) and dt.time(5, 45) < end.time() < dt.time(6, 45)


def test_street_rates_are_the_mean_of_their_counts() -> None:
    """Quay Street's rate at 22:30 is the mean of its two places' counts for 22:00-22:59."""
    loaded = load(SCENARIOS / "auckland-cbd.yaml")
    at = dt.datetime(2024, 11, 22, 22, 30, tzinfo=AUCKLAND).timestamp()
    streets = list(dict.fromkeys(s.street for s in loaded.world.site.segments))
    quay = streets.index("quay-st")
    # 107 Quay Street counted 253 and 188 Quay Street Lower Albert (EW) 344 that hour.
    assert loaded.world.rates.at(at)[quay] == pytest.approx((253.0 + 344.0) / 2)


def test_day_start_hour_puts_small_hours_on_the_next_day(tmp_path: Path) -> None:
    """With day_start_hour 6, a row `2024-11-22, 1:00-1:59` is 01:00 on the 23rd."""
    path = tmp_path / "counts.csv"
    path.write_text(
        "date,hour,year,A,B\n2024-11-22,23:00-23:59,2024,10,\n2024-11-22,1:00-1:59,2024,4,6\n"
    )
    counts = read_counts(path, AUCKLAND, day_start_hour=6)
    hours = [dt.datetime.fromtimestamp(t, AUCKLAND) for t in counts.hour_s]
    assert [(h.day, h.hour) for h in hours] == [(22, 23), (23, 1)]
    assert counts.flow(["A", "B"]).tolist() == [10.0, 5.0]  # a blank cell is no data, not 0


def test_bad_counts_name_the_row(tmp_path: Path) -> None:
    """A negative count is refused with the file, the row and the column."""
    path = tmp_path / "counts.csv"
    path.write_text("date,hour,A\n2024-11-22,7,12\n2024-11-22,8,-3\n")
    with pytest.raises(CountsError, match=r"counts.csv:3: A: a count must be ≥ 0"):
        read_counts(path, AUCKLAND)


def test_unknown_key_in_a_scenario_names_its_line(tmp_path: Path) -> None:
    """A misspelt key is a ConfigError with its line and a suggestion."""
    text = (
        "name: x\nnight: {date: 2024-11-22}\nsite_file: site.yaml\n"
        "walking:\n  stop_probabilty: 0.1\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_model(Scenario, text, "s.yaml")
    assert "s.yaml:5: walking.stop_probabilty: unknown key" in str(caught.value)
    assert "stop_probability" in str(caught.value)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "night", "site_file", "place", "streets", "faults", "tick_s"]),
        st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=8), st.lists(st.integers())),
    )
)
def test_any_mapping_is_a_scenario_or_a_reasoned_refusal(data: dict[str, object]) -> None:
    """Whatever the values, loading gives a scenario or a ConfigError, never a crash."""
    import yaml

    try:
        load_model(Scenario, yaml.safe_dump(data), "s.yaml")
    except ConfigError as error:
        assert error.problems


def test_counts_and_rates_are_arrays_per_street() -> None:
    """Every street of the reference scenario has a positive rate in the evening."""
    loaded = load(SCENARIOS / "auckland-cbd.yaml")
    at = dt.datetime(2024, 11, 22, 21, 0, tzinfo=AUCKLAND).timestamp()
    rates = loaded.world.rates.at(at)
    assert rates.shape == (5,) and np.all(rates > 10)


def test_a_scenario_on_a_site_file_describes_its_counters_by_id(tmp_path: Path) -> None:
    """On the demo site, a counter listed in the scenario gets its latency and miss rate; the
    others stay perfect; a counter the site does not have is refused by name."""
    site_file = SCENARIOS.parent / "site.yaml"
    path = tmp_path / "s.yaml"
    body = f"name: demo\nnight: {{date: 2025-01-15}}\nsite_file: {site_file}\n"
    path.write_text(
        body + "counters:\n  - {id: ped-lices-04, segment: rue-des-lices-04,"
        " latency_s: [1, 2], miss_rate: 0.1}\n"
    )
    specs = {c.device_id: c for c in load(path).world.counters}
    assert (specs["ped-lices-04"].latency_s, specs["ped-lices-04"].miss_rate) == ((1, 2), 0.1)
    assert specs["ped-port-01"].miss_rate == 0.0 and len(specs) == 10
    path.write_text(body + "counters:\n  - {id: ped-nowhere, segment: rue-des-lices-04}\n")
    with pytest.raises(ValueError, match="ped-nowhere"):
        load(path)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    """Every scenario shipped in config/scenarios/ validates and builds its world."""
    if scenario_kind(path) == "services":
        world = load_services(path)
        assert world.site.devices and world.scenario.days > 0
        return
    loaded = load(path)
    assert loaded.world.counters and loaded.end_s > loaded.start_s
