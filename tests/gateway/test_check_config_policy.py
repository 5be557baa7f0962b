"""check-config with a site and its policy: names checked against the site, warnings for
policies that are legal but unwise, each with its file and line."""

from pathlib import Path

import pytest

from controllers.settings import ConfigError
from gateway.config import check_file, load_settings
from luciole.main import main

SITE = """\
site: {id: t, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}
segments:
  - {id: a-1, street: a, order: 1, length_m: 42, rated_power_w: 36, lux_at_full_lx: 10}
  - {id: a-2, street: a, order: 2, length_m: 30, rated_power_w: 36, lux_at_full_lx: 10}
"""


def pair(folder: Path, policy: str) -> Path:
    (folder / "site.yaml").write_text(SITE)
    (folder / "policy.yaml").write_text(policy)
    return folder / "site.yaml"


def test_unwise_values_are_warnings_with_lines_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 10 % floor under P6 (20 % here) and a 20 s hold on a 42 m segment are warned about;
    the files are still valid."""
    site = pair(tmp_path, "limits:\n  floor: 10%\npresence:\n  level: rated\n  hold_s: 20s\n")
    assert main(["check-config", str(site), str(tmp_path / "policy.yaml")]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    policy = tmp_path / "policy.yaml"
    assert f"{policy}:2: limits.floor: warning: the floor 10% is below" in lines[0]
    assert (
        f"{policy}:5: presence.hold_s: warning: presence.hold_s 20 s is shorter than the 30 s"
        in lines[1]
    )
    assert len(lines) == 2  # each warning once, though both files were named
    assert captured.out.strip() == "2 file(s) valid, 2 warning(s)"


def test_a_street_the_site_lacks_is_an_error_on_its_line(tmp_path: Path) -> None:
    """streets: {aa: ...} in the policy of a site without street aa: refused, with the line."""
    site = pair(tmp_path, "limits: {floor: P6}\nstreets:\n  aa:\n    presence: {hold_s: 5m}\n")
    problems = check_file(site)
    assert [(p.line, p.path, p.warning) for p in problems] == [(3, "streets.aa", False)]
    assert "did you mean 'a'" in problems[0].message
    with pytest.raises(ConfigError):
        load_settings(site)


def test_warnings_do_not_stop_the_daemon_from_loading(tmp_path: Path) -> None:
    """load_settings accepts a policy that only has warnings."""
    site = pair(tmp_path, "limits:\n  floor: 5%\n")
    assert load_settings(site).policy.limits.floor == 0.05


def test_occupancy_that_gives_up_early_and_learning_without_it_are_warned(
    tmp_path: Path,
) -> None:
    """A 1.2 m/s slowest walker with occupancy, and learn_speeds without occupancy on a
    segment, are warnings at their keys."""
    policy = (
        "presence:\n  occupancy: true\n  slowest_walker_mps: 1.2\n"
        "segments:\n  a-2:\n    presence: {occupancy: false, learn_speeds: true}\n"
    )
    problems = check_file(pair(tmp_path, policy))
    found = {(p.path, p.warning): p.message for p in problems}
    assert "gives up" in found[("presence.slowest_walker_mps", True)]
    assert "learns nothing" in found[("segments.a-2.presence.learn_speeds", True)]
