"""Districts and roles: what a district's daemon and an ingest worker serve, and what they
leave to the others, without refusing it."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.settings import ConfigError, Policy, SiteConfig
from controllers.settings.districts import district_site
from gateway.config import load_settings
from gateway.ingest.intake import Accepted, Elsewhere, Intake
from gateway.lighting.control import Lighting
from gateway.pipeline import Pipeline
from gateway.roles import sensor_subscriptions, shared
from tests.gateway.test_config_files import write_pair

NOW_S = 1_700_000_000.0


def _segment(segment_id: str, street: str, order: int) -> dict[str, Any]:
    return {"id": segment_id, "street": street, "order": order, "length_m": 30, "rated_power_w": 40}


def _city(districts: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "site": {"id": "city", "latitude": 45.0, "longitude": 4.0},
        "broker": {"client_id": "luciole-city"},
        "metrics_port": 9100,
        "segments": [
            _segment("n1", "north-st", 0),
            _segment("n2", "north-st", 1),
            _segment("s1", "south-st", 0),
            _segment("x1", "cross-st", 0),
        ],
        "devices": {
            "counter-n": {"kind": "pedestrian", "segment": "n1"},
            "counter-s": {"kind": "pedestrian", "segment": "s1", "network_ids": ["A1B2"]},
        },
        "junctions": {"corner": ["n2", "s1", "x1"]},
        "districts": districts
        if districts is not None
        else {
            "north": {"streets": ["north-st"], "segments": ["x1"], "metrics_port": 9101},
            "south": {"streets": ["south-st"]},
        },
    }


def _problems(data: dict[str, Any]) -> list[str]:
    return [message for _, message in SiteConfig.model_validate(data).problems()]


def test_a_district_serves_its_segments_devices_and_its_part_of_a_junction() -> None:
    """North gets its street and the named segment, its counter, the corner without south,
    its own client id, spool, dead-letter file and metrics port."""
    site, view = district_site(SiteConfig.model_validate(_city()), "north")
    assert [s.id for s in site.segments] == ["n1", "n2", "x1"]
    assert list(site.devices) == ["counter-n"]
    assert site.junctions == {"corner": ["n2", "x1"]}
    assert site.broker.client_id == "luciole-city-north"
    assert (site.spool_path, site.deadletter_path) == (
        "spool/luciole-north.db",
        "spool/deadletter-north.jsonl",
    )
    assert site.metrics_port == 9101
    assert set(view.foreign_devices) == {"counter-s"}
    assert view.foreign_targets == {"s1", "south-st"}


def test_a_district_without_its_own_port_serves_no_metrics() -> None:
    """Two daemons cannot share the site's port: a district names its own or has none."""
    site, _ = district_site(SiteConfig.model_validate(_city()), "south")
    assert site.metrics_port is None


def test_names_the_site_lacks_are_refused_with_a_hint() -> None:
    """A misspelt street in a district is an error that suggests the right one."""
    found = _problems(_city({"all": {"streets": ["north-st", "south-st", "cros-st"]}}))
    assert found == [
        "the site has no street 'cros-st'; did you mean 'cross-st'?",
        "1 segment(s) in no district (x1): no district's daemon would light them; "
        "add their streets or segments to a district",
    ]


def test_a_segment_in_two_districts_is_refused() -> None:
    """One controller per segment: a second owner is an error naming the first."""
    found = _problems(
        _city(
            {"a": {"streets": ["north-st", "cross-st"]}, "b": {"streets": ["south-st", "cross-st"]}}
        )
    )
    assert found == ["segment 'x1' is already in district 'a'"]


def _pipeline(
    site: SiteConfig, lights: bool = True, foreign: frozenset[str] = frozenset()
) -> Pipeline:
    intake = Intake(site)
    return Pipeline(
        intake,
        Lighting(site, Policy.model_validate({}), NOW_S),
        lights=lights,
        foreign_targets=foreign,
    )


def test_another_districts_device_is_left_to_it_not_refused() -> None:
    """South's counter, by device id or by network id, is ignored by north; an unknown one
    is still refused."""
    site, view = district_site(SiteConfig.model_validate(_city()), "north")
    intake = Intake(site, foreign_devices=view.foreign_devices)
    body = json.dumps({"count": 2, "period_s": 60}).encode()
    by_id = intake.message("luciole/city/sensor/pedestrian/counter-s", body, NOW_S)
    assert by_id == Elsewhere("counter-s")
    by_network_id = intake.message("luciole/city/sensor/pedestrian/a1b2", body, NOW_S)
    assert by_network_id == Elsewhere("counter-s")
    assert isinstance(
        intake.message("luciole/city/sensor/pedestrian/counter-n", body, NOW_S), Accepted
    )
    unknown = intake.message("luciole/city/sensor/pedestrian/nobody", body, NOW_S)
    assert getattr(unknown, "reason", None) == "unknown_device"


def test_an_override_of_another_district_is_ignored_and_all_is_applied() -> None:
    """North leaves an override of a south street to south; `all` applies to its own."""
    site, view = district_site(SiteConfig.model_validate(_city()), "north")
    pipeline = _pipeline(site, foreign=view.foreign_targets)
    body = json.dumps({"level": 0.9, "duration_s": 600}).encode()
    assert pipeline.dispatch("luciole/city/override/south-st", body, NOW_S).verdict == "ignored"
    applied = pipeline.dispatch("luciole/city/override/all", body, NOW_S)
    assert applied.verdict == "applied"
    assert {out.segment for out in applied.commands} <= {"n1", "n2", "x1"}
    unknown = pipeline.dispatch("luciole/city/override/nowhere", body, NOW_S)
    assert unknown.verdict == "rejected"


def test_an_ingest_pipeline_stores_without_lighting() -> None:
    """A worker's accepted detection is spooled and raises no lamp."""
    site = SiteConfig.model_validate(_city({}))
    body = json.dumps({"count": 3, "period_s": 60, "seq": 1}).encode()
    outcome = _pipeline(site, lights=False).dispatch(
        "luciole/city/sensor/pedestrian/counter-n", body, NOW_S
    )
    assert outcome.verdict == "accepted"
    assert len(outcome.spooled) == 1 and outcome.commands == [] and outcome.readings == []


def test_an_ingest_worker_shares_its_sensor_subscriptions() -> None:
    """Every sensor filter joins the group; a source with its own group keeps it."""
    site = SiteConfig.model_validate(
        {
            **_city({}),
            "sources": [
                {"topic": "$share/lns/application/+/device/+/event/up", "format": "chirpstack"}
            ],
        }
    )
    routes = Intake(site).routes
    assert sensor_subscriptions("ingest", routes, "luciole") == [
        ("$share/luciole/luciole/city/sensor/+/+", 1),
        ("$share/lns/application/+/device/+/event/up", 1),
    ]
    assert sensor_subscriptions("control", routes, "luciole")[0] == ("luciole/city/sensor/+/+", 1)
    assert shared("a/b", "g") == "$share/g/a/b"


def test_load_settings_cuts_the_site_for_a_district_or_a_worker(tmp_path: Path) -> None:
    """`--district` serves the district; `--role ingest --worker 2` the whole site under the
    worker's own client id, spool and metrics port; a wrong name says which exist."""
    site_path = write_pair(tmp_path)
    data = _site_yaml(site_path)
    north = load_settings(site_path, "control", "north")
    assert north.district is not None and north.district.name == "north"
    assert north.spool_path == tmp_path / "spool" / "luciole-north.db"
    worker = load_settings(site_path, "ingest", None, 2)
    assert len(worker.site.segments) == len(data["segments"])
    assert worker.site.broker.client_id.endswith("-ingest-2")
    assert worker.spool_path.name == "luciole-ingest-2.db"
    with pytest.raises(ConfigError, match="no district 'nort'; did you mean 'north'"):
        load_settings(site_path, "all", "nort")
    with pytest.raises(ConfigError, match="drop --district"):
        load_settings(site_path, "ingest", "north")


def _site_yaml(site_path: Path) -> dict[str, Any]:
    """Give the pair's site two districts (one street each), and return the site's data."""
    data: dict[str, Any] = yaml.safe_load(site_path.read_text())
    streets = sorted({s["street"] for s in data["segments"]})
    half = max(1, len(streets) // 2)
    data["districts"] = {"north": {"streets": streets[:half]}, "south": {"streets": streets[half:]}}
    site_path.write_text(yaml.safe_dump(data))
    return data
