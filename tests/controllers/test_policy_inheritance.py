"""Defaults → groups → streets → segments: each override replaces only the keys it sets."""

from typing import Any

import numpy as np
import pytest

from controllers.advice import advice
from controllers.resolve import resolve_policy, unknown_names
from controllers.settings import ConfigError, Policy, SiteConfig
from controllers.settings.loader import load_model
from controllers.topology import Topology, topology_from_site


def topology() -> Topology:
    layout = [("old", n) for n in (1, 2, 3)] + [("quay", n) for n in (1, 2)] + [("new", 1)]
    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.47, "longitude": -0.55},
            "segments": [
                {
                    "id": f"{s}-{n}",
                    "street": s,
                    "order": n,
                    "length_m": 60 if s == "quay" else 30,
                    "rated_power_w": 36,
                    "lux_at_full_lx": 10,
                }
                for s, n in layout
            ],
        }
    )
    return topology_from_site(site)


TOPOLOGY = topology()


def per_segment(policy: dict[str, Any], name: str) -> dict[str, float]:
    resolved = resolve_policy(Policy.model_validate(policy), TOPOLOGY)
    values = getattr(resolved, name)
    return {sid: round(float(v), 4) for sid, v in zip(TOPOLOGY.ids, values, strict=True)}


def test_each_level_overrides_the_one_above_for_the_keys_it_sets() -> None:
    """A group sets the hold for two streets, a street changes it again, a segment again."""
    policy = {
        "presence": {"hold_s": "1m", "ramp_up_s": 2},
        "groups": {"centre": {"streets": ["old", "quay"], "presence": {"hold_s": "2m"}}},
        "streets": {"quay": {"presence": {"hold_s": "3m"}}},
        "segments": {"quay-2": {"presence": {"hold_s": "4m"}}},
    }
    assert per_segment(policy, "hold_s") == {
        "old-1": 120,
        "old-2": 120,
        "old-3": 120,
        "quay-1": 180,
        "quay-2": 240,
        "new-1": 60,
    }
    assert set(per_segment(policy, "ramp_up_s").values()) == {2.0}  # not set below: inherited


def test_later_groups_win_and_a_group_may_name_single_segments() -> None:
    """Two groups over old-2: the one later in the file sets its floor."""
    policy = {
        "groups": {
            "a": {"streets": ["old"], "limits": {"floor": 0.2}},
            "b": {"segments": ["old-2", "new-1"], "limits": {"floor": 0.3}},
        }
    }
    floors = per_segment(policy, "floor")
    assert (floors["old-1"], floors["old-2"], floors["new-1"], floors["quay-1"]) == (
        0.2,
        0.3,
        0.3,
        0.1,
    )


def test_levels_given_as_classes_follow_each_segment() -> None:
    """presence.level P3 on 10 lx lamps is 0.75; `rated` (P4 by default) is 0.5."""
    policy = {"presence": {"level": "rated"}, "streets": {"quay": {"presence": {"level": "P3"}}}}
    levels = per_segment(policy, "occupied_level")
    assert (levels["old-1"], levels["quay-1"]) == (0.5, 0.75)


def test_schedules_are_shared_between_combinations_that_agree() -> None:
    """A street that only changes its hold keeps the site's schedule object."""
    policy = Policy.model_validate(
        {
            "streets": {
                "quay": {"presence": {"hold_s": 5}},
                "new": {"schedule": {"night_level": 0.5}},
            }
        }
    )
    resolved = resolve_policy(policy, TOPOLOGY)
    assert len(resolved.layers) == 3
    assert len(resolved.schedules) == 2


def test_unknown_names_get_a_did_you_mean_and_groups_cannot_shadow_streets() -> None:
    """A misspelt street or segment is an error naming the close one; a group called like a
    street is ambiguous as an override target."""
    policy = Policy.model_validate(
        {
            "streets": {"qauy": {}},
            "segments": {"old-9": {}},
            "groups": {"new": {"streets": ["olld"]}},
        }
    )
    problems = dict(unknown_names(policy, TOPOLOGY))
    assert "did you mean 'quay'" in problems[("streets", "qauy")]
    assert "no segment 'old-9'" in problems[("segments", "old-9")]
    assert "did you mean 'old'" in problems[("groups", "new", "streets", 0)]
    assert "cannot be named like a street" in problems[("groups", "new")]


def test_flow_window_is_site_wide() -> None:
    """traffic.window_s in a group is refused with where to put it."""
    with pytest.raises(ConfigError) as caught:
        load_model(Policy, "groups:\n  g:\n    traffic:\n      window_s: 5m\n", "policy.yaml")
    assert str(caught.value.problems[0]) == (
        "policy.yaml:4: groups.g.traffic.window_s: the flow window is site-wide: set "
        "traffic.window_s at the top level"
    )


def test_misspelt_key_in_a_group_section_gets_a_did_you_mean() -> None:
    """The did-you-mean reaches keys nested under groups."""
    with pytest.raises(ConfigError) as caught:
        load_model(Policy, "groups:\n  g:\n    presence:\n      hodl_s: 5s\n", "policy.yaml")
    assert "did you mean 'hold_s'" in str(caught.value)


def test_warnings_point_at_the_key_that_set_the_unwise_value() -> None:
    """The site floor of 10 % is below P6 (0.2 here) everywhere but where a street raised it;
    the quay's 30 s hold is shorter than crossing its 60 m segments."""
    policy = Policy.model_validate(
        {
            "limits": {"floor": 0.1},
            "presence": {"level": "rated", "hold_s": 60},
            "streets": {
                "old": {"limits": {"floor": "P6"}},
                "quay": {"presence": {"hold_s": 30, "level": 0.3}},
            },
        }
    )
    found = dict(advice(policy, TOPOLOGY))
    assert set(found) == {
        ("limits", "floor"),
        ("streets", "quay", "presence", "hold_s"),
        ("streets", "quay", "presence", "level"),
    }
    assert "below the lowest lighting class P6" in found[("limits", "floor")]
    assert "(on quay-1, quay-2, new-1)" in found[("limits", "floor")]
    assert "43 s a walker needs" in found[("streets", "quay", "presence", "hold_s")]
    assert "below the rated class" in found[("streets", "quay", "presence", "level")]


def test_a_sensible_policy_has_no_warnings() -> None:
    """Class floor, rated presence and a hold longer than any crossing: nothing to say."""
    policy = Policy.model_validate(
        {"limits": {"floor": "P6"}, "presence": {"level": "rated", "hold_s": "2m"}}
    )
    assert advice(policy, TOPOLOGY) == []
    assert np.all(resolve_policy(policy, TOPOLOGY).floor > 0)
