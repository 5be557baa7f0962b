"""YAML text to a validated policy or site, or to problems with file, line, key path and fix."""

from datetime import time
from textwrap import dedent

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from controllers.settings import ConfigError, Policy, Problem, SiteConfig
from controllers.settings.loader import load_model
from controllers.settings.types import STRICT, TimeOfDay

SITE = """\
site:
  id: test-site
  latitude: 47.47
  longitude: -0.55
  timezone: Europe/Paris
segments:
  - {id: a-1, street: a, order: 1, length_m: 30, rated_power_w: 36}
  - {id: a-2, street: a, order: 2, length_m: 30, rated_power_w: 36}
devices:
  ped-1: {kind: pedestrian, segment: a-1}
  ped-9: {kind: pedestrian, segment: nowhere}
"""


def problems_of(model: type[BaseModel], text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_model(model, dedent(text), "policy.yaml")
    return caught.value.problems


def only_problem(model: type[BaseModel], text: str) -> Problem:
    found = problems_of(model, text)
    assert len(found) == 1, found
    return found[0]


def test_empty_text_gives_the_defaults() -> None:
    """An empty policy file is the default policy."""
    assert load_model(Policy, "", "policy.yaml") == Policy()


def test_human_forms_are_accepted() -> None:
    """`30s`, `2m`, `40%` reach the model as seconds and ratios."""
    policy = load_model(
        Policy,
        "schedule: {night_level: 40%, sunset_offset_s: -10m}\n"
        "presence: {hold_s: 2m, ramp_down_s: 30s, level: 90%}\n",
        "policy.yaml",
    )
    assert policy.schedule.night_level == pytest.approx(0.4)
    assert policy.schedule.sunset_offset_s == -600
    assert policy.presence.hold_s == 120
    assert policy.presence.ramp_down_s == 30
    assert policy.presence.level == pytest.approx(0.9)


def test_unquoted_time_of_day_is_accepted() -> None:
    """An unquoted `01:00` (YAML's sexagesimal 60) loads as 01:00 in a TimeOfDay field."""

    class Quiet(BaseModel):
        model_config = STRICT
        start: TimeOfDay

    assert load_model(Quiet, "start: 01:00\n", "q.yaml").start == time(1, 0)
    assert load_model(Quiet, "start: '22:30'\n", "q.yaml").start == time(22, 30)


def test_misspelt_key_has_line_path_and_suggestion() -> None:
    """A typo names its line, its dotted path and the key that was meant."""
    problem = only_problem(
        Policy,
        """\
        schedule:
          night_level: 30%
        presence:
          level: 100%
          hlod_s: 2m
        """,
    )
    assert (problem.file, problem.line, problem.path) == ("policy.yaml", 5, "presence.hlod_s")
    assert "did you mean 'hold_s'" in problem.message
    assert str(problem).startswith("policy.yaml:5: presence.hlod_s: unknown key 'hlod_s'")


def test_unknown_key_without_a_close_match_lists_known_keys() -> None:
    """With no close match the message lists the keys that exist there."""
    problem = only_problem(Policy, "limits:\n  zzzz: 1\n")
    assert problem.line == 2
    assert "did you mean" not in problem.message
    assert "known keys: floor, max" in problem.message


def test_misspelt_key_inside_a_list_item() -> None:
    """Suggestions follow list items: segments[1].lenght_m suggests length_m."""
    text = SITE.replace(
        "{id: a-2, street: a, order: 2, length_m", "{id: a-2, street: a, order: 2, lenght_m"
    )
    found = problems_of(SiteConfig, text)
    typo = [p for p in found if p.path == "segments[1].lenght_m"]
    assert typo, found
    assert typo[0].line == 8
    assert "did you mean 'length_m'" in typo[0].message


def test_negative_hold_is_reported_with_bound_and_value() -> None:
    """`hold_s: -5` says `must be ≥ 0 (got -5)` on its own line."""
    problem = only_problem(Policy, "presence:\n  level: 1\n  hold_s: -5\n")
    assert str(problem) == "policy.yaml:3: presence.hold_s: must be ≥ 0 (got -5)"


def test_out_of_range_ratio_is_reported() -> None:
    """A level above 100 % names the bound."""
    problem = only_problem(Policy, "presence:\n  level: 150%\n")
    assert (problem.line, problem.path) == (2, "presence.level")
    assert problem.message == "a level must be between 0 and 100% (got '150%')"


def test_bad_duration_text_is_explained() -> None:
    """A duration that cannot be read says which forms are expected."""
    problem = only_problem(Policy, "presence:\n  hold_s: soon\n")
    assert (problem.line, problem.path) == (2, "presence.hold_s")
    assert "expected a duration such as 30s" in problem.message


def test_every_problem_is_reported_not_just_the_first() -> None:
    """Two independent mistakes give two problems."""
    found = problems_of(Policy, "presence:\n  hold_s: -1\nlimits:\n  flor: 0.1\n")
    assert {(p.line, p.path) for p in found} == {(2, "presence.hold_s"), (4, "limits.flor")}


def test_duplicate_key_names_both_lines() -> None:
    """A repeated key is an error on the second line that points at the first."""
    problem = only_problem(Policy, "presence:\n  hold_s: 1m\n  level: 1\n  hold_s: 2m\n")
    assert (problem.line, problem.path) == (4, "presence.hold_s")
    assert "duplicate key (first set on line 2)" in problem.message


def test_yaml_syntax_error_has_a_line() -> None:
    """Broken YAML is a single problem with the line where the parser stopped."""
    problem = only_problem(Policy, "presence:\n  hold_s: 1m\n  level: [1, 2\nlimits: {}\n")
    assert problem.line is not None
    assert 3 <= problem.line <= 4
    assert problem.message.startswith("YAML syntax error")


def test_top_level_must_be_a_mapping() -> None:
    """A list at the top is refused on line 1."""
    problem = only_problem(Policy, "- a\n- b\n")
    assert (problem.line, problem.message) == (1, "expected a mapping of keys at the top")


def test_floor_above_max_is_a_cross_field_problem() -> None:
    """`problems()` rules are reported at the offending key's line."""
    problem = only_problem(Policy, "limits:\n  max: 50%\n  floor: 60%\n")
    assert (problem.line, problem.path) == (3, "limits.floor")
    assert "must not exceed limits.max (0.5, got 0.6)" in problem.message


def test_site_loads() -> None:
    """A valid site file becomes a SiteConfig with its defaults filled in."""
    site = load_model(SiteConfig, SITE.replace("segment: nowhere", "segment: a-2"), "site.yaml")
    assert [s.id for s in site.segments] == ["a-1", "a-2"]
    assert site.devices["ped-9"].segment == "a-2"
    assert site.broker.port == 1883


def test_unknown_device_segment_is_reported_at_the_device() -> None:
    """A device on a segment that does not exist is an error on that device's line."""
    problem = only_problem(SiteConfig, SITE)
    assert (problem.line, problem.path) == (11, "devices.ped-9.segment")
    assert "unknown segment 'nowhere'" in problem.message


def test_repeated_segment_place_is_reported() -> None:
    """Two segments at the same order of one street are refused at the second one."""
    text = SITE.replace("segment: nowhere", "segment: a-2").replace("order: 2", "order: 1")
    problem = only_problem(SiteConfig, text)
    assert (problem.line, problem.path) == (8, "segments[1].order")
    assert "already segment 'a-1'" in problem.message


def test_unknown_timezone_is_explained() -> None:
    """A time zone that is not an IANA name is refused with an example."""
    text = SITE.replace("segment: nowhere", "segment: a-2").replace("Europe/Paris", "Paris")
    problem = only_problem(SiteConfig, text)
    assert (problem.line, problem.path) == (5, "site.timezone")
    assert "unknown time zone 'Paris'" in problem.message


def test_missing_required_key_points_at_its_parent() -> None:
    """A missing latitude is reported on the `site:` line."""
    text = SITE.replace("segment: nowhere", "segment: a-2").replace("  latitude: 47.47\n", "")
    problem = only_problem(SiteConfig, text)
    assert (problem.line, problem.path) == (1, "site.latitude")
    assert problem.message == "is required but missing"


# --- properties: any text gives a model or a ConfigError, never another exception -----------

SECTIONS = [
    "schedule",
    "presence",
    "limits",
    "commands",
    "failsafe",
    "presense",
    "traffic",
    "alerts",
    "energy",
]
FIELDS = [
    "night_level",
    "sunset_offset_s",
    "hold_s",
    "level",
    "floor",
    "max",
    "deadband",
    "refresh_s",
    "stale_after_s",
    "lookahead_segments",
    "ramp_up_s",
    "hold",
    "steps",
    "exceptions",
    "classes",
    "hysteresis",
    "window_s",
    "enabled",
    "ahead_level",
    "max_ramp_per_s",
    "dali_arc_power",
    "tolerance",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
    st.sampled_from(
        ["30s", "2m", "40%", "-5", "1h30m", "abc", "01:00", "150%", "-10m", "P4", "rated", "off"]
    ),
    st.text(max_size=12),
)
STEPS = st.lists(
    st.dictionaries(st.sampled_from(["at", "level", "from", "name", "dates", "weekdays"]), SCALARS),
    max_size=3,
)
SECTION = st.dictionaries(st.sampled_from(FIELDS), st.one_of(SCALARS, STEPS), max_size=6)
LAYER = st.dictionaries(st.sampled_from(SECTIONS), st.one_of(SCALARS, SECTION), max_size=3)
POLICY_DATA = st.dictionaries(
    st.sampled_from([*SECTIONS, "groups", "streets", "segments"]),
    st.one_of(SCALARS, SECTION, st.dictionaries(st.sampled_from(["old-town", "m-1"]), LAYER)),
    max_size=6,
)
# Characters PyYAML's reader accepts; control characters have their own test below.
YAML_PRINTABLE = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs", "Cn"), exclude_characters="!&*"
) | st.sampled_from("\n\t :-{}[],#'\"")


# A fresh checkout builds Hypothesis's Unicode tables during the first draw; that is not slowness.
FIRST_RUN_OK = settings(suppress_health_check=[HealthCheck.too_slow])


def assert_model_or_config_error(text: str) -> None:
    try:
        value = load_model(Policy, text, "policy.yaml")
    except ConfigError as error:
        assert error.problems
        assert all(isinstance(p, Problem) and p.file == "policy.yaml" for p in error.problems)
        return
    assert isinstance(value, Policy)


@FIRST_RUN_OK
@given(POLICY_DATA)
def test_policy_like_yaml_gives_a_model_or_problems(data: dict[str, object]) -> None:
    """Generated policy-shaped YAML loads or fails with ConfigError, nothing else."""
    assert_model_or_config_error(yaml.safe_dump(data))


@FIRST_RUN_OK
@given(st.text(YAML_PRINTABLE, max_size=200))
def test_printable_text_gives_a_model_or_problems(text: str) -> None:
    """Arbitrary printable text loads or fails with ConfigError, nothing else."""
    assert_model_or_config_error(text)


@FIRST_RUN_OK
@given(st.text(max_size=50))
@example("\x01")
def test_any_text_gives_a_model_or_problems(text: str) -> None:
    """Any text at all, control characters included, loads or fails with ConfigError."""
    assert_model_or_config_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "presence:\n  hold_s: 2026-13-45\n",  # implicit timestamp with an impossible month
        "presence:\n  hold_s: !!int abc\n",
        "presence:\n  hold_s: !!timestamp soon\n",
        "presence: &p [*p]\n",
    ],
)
def test_odd_yaml_gives_problems(text: str) -> None:
    """Impossible dates, bad explicit tags and recursive aliases are ConfigErrors with a line."""
    problem = problems_of(Policy, text)[0]
    assert problem.line is not None


def test_a_segment_may_say_where_it_lies_with_both_ends() -> None:
    """`start` and `end` ([latitude, longitude]) place a segment on a map; one alone, or a
    latitude past the pole, is refused at its line."""
    placed = SITE.replace("  ped-9: {kind: pedestrian, segment: nowhere}\n", "").replace(
        "order: 1, length_m: 30, rated_power_w: 36}",
        "order: 1, length_m: 30, rated_power_w: 36, start: [47.47, -0.55], end: [47.471, -0.55]}",
    )
    site = load_model(SiteConfig, placed, "site.yaml")
    assert (site.segments[0].start, site.segments[0].end) == ((47.47, -0.55), (47.471, -0.55))
    half = placed.replace(", end: [47.471, -0.55]", "")
    assert "give both start and end" in only_problem(SiteConfig, half).message
    pole = placed.replace("end: [47.471, -0.55]", "end: [97.0, -0.55]")
    problem = only_problem(SiteConfig, pole)
    assert (problem.path, problem.message) == ("segments[0].end[0]", "must be ≤ 90 (got 97.0)")
