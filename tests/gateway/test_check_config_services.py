"""check-config knows the city services' keys: units, typos, keys of the wrong kind of
device, and values that are legal but unwise for the site's meters and bins."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.settings import ConfigError, Policy
from controllers.settings.loader import load_model
from gateway.config import check_file

SITE = """\
site: {id: t, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}
segments:
  - {id: a-1, street: a, order: 1, length_m: 30, rated_power_w: 36}
devices:
  meter-coarse: {kind: water, segment: a-1, resolution_m3: 0.1}
  meter-fine: {kind: water, segment: a-1}
  bin-weekly: {kind: bin, segment: a-1, collection_days: [mon]}
"""


def pair(folder: Path, policy: str, site: str = SITE) -> Path:
    (folder / "site.yaml").write_text(site)
    (folder / "policy.yaml").write_text(policy)
    return folder / "site.yaml"


def test_services_values_are_read_with_their_units() -> None:
    text = "water: {leak_sensitivity: 0.5%, burst_duration_s: 30m}\nbins: {full_at: 85%}\n"
    policy = load_model(Policy, text, "policy.yaml")
    assert policy.water.leak_sensitivity == pytest.approx(0.005)
    assert policy.water.burst_duration_s == 1800
    assert policy.bins.full_at == pytest.approx(0.85)


def test_a_typo_gets_a_did_you_mean_on_its_line(tmp_path: Path) -> None:
    site = pair(tmp_path, "water:\n  leak_sensitivty: 1%\n")
    (problem,) = [p for p in check_file(site) if not p.warning]
    assert (problem.line, problem.path) == (2, "water.leak_sensitivty")
    assert "did you mean 'leak_sensitivity'" in problem.message


def test_a_bin_key_on_a_meter_is_an_error_that_says_why(tmp_path: Path) -> None:
    site = pair(tmp_path, "{}\n", SITE + "  meter-x: {kind: water, segment: a-1, full_at: 0.9}\n")
    (problem,) = [p for p in check_file(site) if not p.warning]
    assert "full_at: only for a bin device, not water" in problem.message


def test_a_band_upside_down_is_refused() -> None:
    with pytest.raises(ConfigError, match="full_clear must be below full_at"):
        load_model(Policy, "bins: {full_at: 80%, full_clear: 90%}\n", "policy.yaml")


def test_unwise_services_values_are_warnings_naming_the_devices(tmp_path: Path) -> None:
    """A 0.1 m³ register cannot see 12.5 L/h; a weekly bin is late by its schedule at 5 days;
    a burst threshold under the leak threshold; a window shorter than a day."""
    policy = (
        "bins: {collection_late_s: 5d}\n"
        "water: {burst_share: 0.1%, leak_window_h: 12, leak_min_known_h: 10}\n"
    )
    site = pair(tmp_path, policy)
    warnings = {p.path: p.message for p in check_file(site) if p.warning}
    assert "meter-coarse (100 L)" in warnings["water.leak_sensitivity"]
    assert "meter-fine" not in warnings["water.leak_sensitivity"]
    assert "bin-weekly (7 days)" in warnings["bins.collection_late_s"]
    assert "every leak" in warnings["water.burst_share"]
    assert "shorter than a day" in warnings["water.leak_window_h"]
    quiet = check_file(pair(tmp_path, "{}\n", SITE.replace("0.1}", "0.001}")))
    assert not [p for p in quiet if p.path.startswith(("water", "bins"))]


@given(
    st.dictionaries(
        st.sampled_from(["full_at", "full_clear", "empty_at", "empty_clear", "emptying_drop"]),
        st.one_of(st.floats(allow_nan=True), st.text(max_size=6), st.integers(-5, 200)),
    )
)
def test_any_bins_section_loads_or_is_refused_with_a_reason(values: dict[str, object]) -> None:
    try:
        policy = Policy.model_validate({"bins": values})
    except ValueError as error:
        assert str(error)
        return
    bins = policy.bins
    assert bins.empty_at < bins.empty_clear < bins.full_clear < bins.full_at
