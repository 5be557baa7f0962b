"""Configuration files on disk: the shipped examples, a site/policy pair, and what goes wrong."""

from pathlib import Path

import pytest

from controllers.settings import ConfigError
from controllers.topology import topology_from_site
from gateway.config import check_file, load_settings

CONFIG = Path(__file__).resolve().parents[2] / "config"

SITE = """\
site:
  id: test-site
  latitude: 47.47
  longitude: -0.55
  timezone: Europe/Paris
policy: {policy}
segments:
  - {{id: a-1, street: a, order: 1, length_m: 30, rated_power_w: 36}}
  - {{id: a-2, street: a, order: 2, length_m: 30, rated_power_w: 36}}
devices:
  ped-1: {{kind: pedestrian, segment: a-1}}
"""
POLICY = """\
schedule:
  night_level: 25%
presence:
  hold_s: 90s
"""


def write_pair(folder: Path, policy_name: str = "policy.yaml") -> Path:
    site = folder / "site.yaml"
    site.write_text(SITE.format(policy=policy_name), encoding="utf-8")
    (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return site


def test_shipped_config_loads_cleanly() -> None:
    """config/site.yaml and the policy it names validate and describe the demo district."""
    settings = load_settings(CONFIG / "site.yaml")
    assert settings.policy_path == CONFIG / "policy.yaml"
    assert settings.site.site.id == "angers-centre"
    assert len(settings.site.segments) == 24
    assert len(settings.site.devices) == 15
    assert settings.policy.presence.hold_s == 80
    assert settings.policy.presence.lookahead_segments == 3
    assert settings.policy.schedule.night_level == "P5"
    assert settings.policy.traffic.enabled
    assert settings.policy.schedule.sunset_offset_s == 600
    assert settings.policy.failsafe.stale_after_s == 1800
    topology = topology_from_site(settings.site)
    assert topology.streets == ("rue-des-lices", "quai-du-port")


@pytest.mark.parametrize("name", ["site.yaml", "policy.yaml"])
def test_check_file_finds_nothing_in_the_shipped_files(name: str) -> None:
    """`luciole check-config config/*.yaml` is clean on the examples."""
    assert check_file(CONFIG / name) == []


def test_load_settings_reads_a_pair(tmp_path: Path) -> None:
    """A site and the policy next to it load together with their paths."""
    settings = load_settings(write_pair(tmp_path))
    assert settings.site_path == tmp_path / "site.yaml"
    assert settings.policy_path == tmp_path / "policy.yaml"
    assert settings.policy.schedule.night_level == pytest.approx(0.25)
    assert settings.policy.presence.hold_s == 90


def test_check_file_on_a_valid_pair(tmp_path: Path) -> None:
    """Both files of a valid pair check clean (warnings aside), each recognised as site or
    policy."""
    site = write_pair(tmp_path)
    assert [p for p in check_file(site) if not p.warning] == []
    assert check_file(tmp_path / "policy.yaml") == []


def test_check_file_reports_a_policy_problem_with_its_line(tmp_path: Path) -> None:
    """A bad policy file gives the problem rendered as file:line: path: message."""
    write_pair(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("hold_s: 90s", "hold_s: -5"), encoding="utf-8")
    problems = check_file(policy)
    assert [str(p) for p in problems] == [f"{policy}:4: presence.hold_s: must be ≥ 0 (got -5)"]


def test_check_file_reports_a_site_problem_with_its_line(tmp_path: Path) -> None:
    """A device on an unknown segment is reported at the device's line."""
    site = write_pair(tmp_path)
    site.write_text(site.read_text().replace("segment: a-1}", "segment: a-9}"), encoding="utf-8")
    problems = check_file(site)
    assert [(p.line, p.path) for p in problems] == [(11, "devices.ped-1.segment")]


def test_missing_policy_is_reported_on_the_policy_line(tmp_path: Path) -> None:
    """A site naming a policy file that does not exist points at its `policy:` line."""
    site = write_pair(tmp_path, policy_name="night.yaml")
    problems = check_file(site)
    assert len(problems) == 1
    assert (problems[0].line, problems[0].path) == (6, "policy")
    assert "'night.yaml' not found next to site.yaml" in problems[0].message
    with pytest.raises(ConfigError) as caught:
        load_settings(site)
    assert [(p.line, p.path) for p in caught.value.problems] == [(6, "policy")]


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """check_file and load_settings on a missing file say `file not found`."""
    missing = tmp_path / "nope.yaml"
    assert [p.message for p in check_file(missing)] == ["file not found"]
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(missing)


def test_non_utf8_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported as unreadable."""
    broken = tmp_path / "policy.yaml"
    broken.write_bytes(b"presence:\n  hold_s: \xff\xfe\n")
    problems = check_file(broken)
    assert len(problems) == 1
    assert problems[0].message.startswith("cannot read:")


def test_yaml_syntax_error_in_a_file_has_a_line(tmp_path: Path) -> None:
    """Broken YAML on disk is reported with the file name and a line."""
    broken = tmp_path / "policy.yaml"
    broken.write_text("presence:\n  hold_s: [90s\n", encoding="utf-8")
    problems = check_file(broken)
    assert len(problems) == 1
    assert problems[0].file == str(broken)
    assert problems[0].line is not None
    assert "YAML syntax error" in problems[0].message


@pytest.mark.parametrize("path", sorted((CONFIG / "policies").glob("*.yaml")), ids=lambda p: p.name)
def test_the_policies_sim_compare_uses_are_clean(path: Path) -> None:
    """config/policies/*.yaml (today's presence rule, occupancy, learnt speeds) validate."""
    assert check_file(path) == []
