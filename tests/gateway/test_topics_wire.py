"""Topic names of the wire contract and the native payload models."""

import pytest
from pydantic import ValidationError

from gateway.wire.payloads import LampCommand, LampState, OverrideMessage, PedestrianPayload
from gateway.wire.topics import Topics

TOPICS = Topics("luciole", "angers-centre")


def test_topic_names_follow_the_contract() -> None:
    """Every topic sits under prefix/site as DESIGN.md lists them."""
    assert TOPICS.root == "luciole/angers-centre"
    assert TOPICS.sensors == "luciole/angers-centre/sensor/+/+"
    assert TOPICS.overrides == "luciole/angers-centre/override/+"
    assert TOPICS.deadletter == "luciole/angers-centre/deadletter"
    assert TOPICS.sensor("bin", "b-1") == "luciole/angers-centre/sensor/bin/b-1"
    assert TOPICS.lamp_set("s-1") == "luciole/angers-centre/lamp/s-1/set"
    assert TOPICS.lamp_state("s-1") == "luciole/angers-centre/lamp/s-1/state"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("luciole/angers-centre/sensor/pedestrian/ped-1", ("pedestrian", "ped-1")),
        ("luciole/angers-centre/sensor/pedestrian", None),
        ("luciole/angers-centre/sensor/pedestrian/ped-1/x", None),
        ("luciole/other/sensor/pedestrian/ped-1", None),
        ("luciole/angers-centre/lamp/s-1/set", None),
        ("other/angers-centre/sensor/bin/b-1", None),
    ],
)
def test_parse_sensor(topic: str, expected: tuple[str, str] | None) -> None:
    """Only this site's `sensor/{kind}/{device}` topics parse, into (kind, device)."""
    assert TOPICS.parse_sensor(topic) == expected


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("luciole/angers-centre/override/all", "all"),
        ("luciole/angers-centre/override/rue-des-lices", "rue-des-lices"),
        ("luciole/angers-centre/override/", None),
        ("luciole/angers-centre/override/a/b", None),
        ("luciole/other/override/all", None),
    ],
)
def test_parse_override(topic: str, expected: str | None) -> None:
    """Override topics give their single-level target, anything else None."""
    assert TOPICS.parse_override(topic) == expected


def test_topics_round_trip() -> None:
    """A topic built by `sensor` parses back to its kind and device."""
    assert TOPICS.parse_sensor(TOPICS.sensor("water", "w-7")) == ("water", "w-7")


def test_lamp_command_validates_its_fields() -> None:
    """Levels outside 0..1, unknown reasons and unknown keys are refused."""
    good = {"level": 0.5, "ramp_s": 1.0, "reason": "presence", "seq": 1, "ts": 0.0}
    assert LampCommand.model_validate(good).reason == "presence"
    for bad in ({"level": 1.5}, {"reason": "whim"}, {"ramp_s": -1}, {"extra": 1}):
        with pytest.raises(ValidationError):
            LampCommand.model_validate({**good, **bad})


def test_lamp_state_defaults_to_ok() -> None:
    """A lamp state without status is `ok`; an unknown status is refused."""
    assert LampState(level=0.3, power_w=10.8, ts=1.0).status == "ok"
    with pytest.raises(ValidationError):
        LampState.model_validate({"level": 0.3, "power_w": 1, "ts": 1, "status": "dim"})


def test_override_message_bounds() -> None:
    """An override level is 0..1 and its duration positive."""
    assert OverrideMessage.model_validate({"level": 0, "duration_s": 60}).level == 0
    for bad in ({"level": 1.1}, {"duration_s": 0}, {"until": 5}):
        with pytest.raises(ValidationError):
            OverrideMessage.model_validate(bad)


def test_pedestrian_direction_is_forward_or_backward() -> None:
    """Direction is optional and limited to forward or backward."""
    assert PedestrianPayload(count=1).direction is None
    with pytest.raises(ValidationError):
        PedestrianPayload.model_validate({"count": 1, "direction": "left"})
