"""The intake: routes by topic, the registry check, repeats dropped, readings normalised."""

from pathlib import Path

import pytest

from controllers.settings import SiteConfig
from gateway.ingest.intake import Accepted, Duplicate, Intake, Rejection
from gateway.ingest.readings import BinReading, PedestrianReading

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "third_party"
UPLINK_TOPIC = "application/7/device/1000000000000001/event/up"


def _site(**devices: dict[str, object]) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.0, "longitude": -0.5},
            "segments": [
                {"id": "s1", "street": "a", "order": 1, "length_m": 30, "rated_power_w": 40}
            ],
            "sources": [
                {
                    "topic": "application/7/device/+/event/up",
                    "format": "chirpstack",
                    "codec": "milesight-em400udl",
                },
                {
                    "topic": "$share/luciole/application/8/device/+/event/up",
                    "format": "chirpstack",
                    "codec": "milesight-vs133",
                },
            ],
            "devices": devices,
        }
    )


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_native_reading_of_a_registered_device_is_accepted() -> None:
    """A native payload on the site's topic becomes a reading with its uplink key."""
    intake = Intake(_site(c1={"kind": "pedestrian", "segment": "s1"}))
    got = intake.message("luciole/t/sensor/pedestrian/c1", b'{"count": 2, "seq": 4}', 100.0)
    assert isinstance(got, Accepted)
    (reading,) = got.readings
    assert isinstance(reading, PedestrianReading)
    assert (reading.device_id, reading.count) == ("c1", 2)
    assert [s.uplink for s in got.spooled] == ["c1:4"]


def test_repeated_uplink_is_a_duplicate() -> None:
    """The same sequence number twice is accepted once."""
    intake = Intake(_site(c1={"kind": "pedestrian", "segment": "s1"}))
    body = b'{"count": 1, "seq": 9}'
    assert isinstance(intake.message("luciole/t/sensor/pedestrian/c1", body, 1.0), Accepted)
    assert isinstance(intake.message("luciole/t/sensor/pedestrian/c1", body, 2.0), Duplicate)


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("luciole/t/sensor/pedestrian/intruder", b'{"count": 1}', "unknown_device"),
        ("luciole/t/sensor/water/c1", b'{"total_m3": 1}', "wrong_kind"),
        ("somewhere/else", b"{}", "no_route"),
    ],
)
def test_refusals_name_their_reason(topic: str, body: bytes, reason: str) -> None:
    """A device cannot write for another, nor as another kind; unknown topics are refused."""
    intake = Intake(_site(c1={"kind": "pedestrian", "segment": "s1"}))
    got = intake.message(topic, body, 1.0)
    assert isinstance(got, Rejection) and got.reason == reason


def test_chirpstack_uplink_maps_its_deveui_to_the_registered_bin() -> None:
    """A real EM400-UDL uplink through ChirpStack lands on the bin registered by devEUI."""
    intake = Intake(
        _site(
            bin7={
                "kind": "bin",
                "segment": "s1",
                "empty_distance_mm": 3000,
                "full_distance_mm": 200,
                "network_ids": ["1000000000000001"],
            }
        )
    )
    body = _fixture("chirpstack_v4_up_bin_ultrasonic_milesight_em400udl.json")
    got = intake.message(UPLINK_TOPIC, body, 1.7e9)
    assert isinstance(got, Accepted)
    (reading,) = got.readings
    assert isinstance(reading, BinReading)
    assert (reading.device_id, reading.distance_mm, reading.tilt) == ("bin7", 2116, True)
    assert reading.fill_ratio == pytest.approx((3000 - 2116) / 2800)


def test_shared_subscription_routes_by_its_topic_filter() -> None:
    """A `$share/` source matches topics by the filter after the group name."""
    intake = Intake(
        _site(ped1={"kind": "pedestrian", "segment": "s1", "network_ids": ["1000000000000001"]})
    )
    body = _fixture("chirpstack_v4_up_people_counter_milesight_vs133.json")
    first = intake.message("application/8/device/1000000000000001/event/up", body, 1.7e9)
    assert isinstance(first, Accepted) and first.readings == []  # totals: a baseline first
    assert all(isinstance(r, PedestrianReading) for r in first.readings)
