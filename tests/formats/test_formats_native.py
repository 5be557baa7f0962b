"""Native payloads: the topic gives kind and device, the wire models validate the body."""

import json

import pytest

from gateway.formats import native
from gateway.formats.base import Decoded, DecodeError
from gateway.formats.message import Message
from gateway.wire.topics import Topics

TOPICS = Topics(prefix="city/luciole", site="nantes")


def _message(topic: str, body: object, topics: Topics | None = TOPICS) -> Message:
    return Message(topic, json.dumps(body).encode(), 1_700_000_000.0, None, topics)


def _reason(message: Message) -> str:
    with pytest.raises(DecodeError) as refused:
        native.decode(message)
    return refused.value.reason


def test_walkers_with_a_prefix_of_several_levels() -> None:
    """A prefix with '/' in it still finds kind and device; seq makes the dedup key."""
    body = {"ts": 1714597200, "seq": 9, "count": 2, "period_s": 30}
    (got,) = native.decode(_message("city/luciole/nantes/sensor/pedestrian/ped-7", body))
    assert got == Decoded(
        "ped-7", "pedestrian", 1714597200.0, {"count": 2, "period_s": 30.0}, "ped-7:9"
    )


def test_without_ts_or_seq_there_is_no_time_and_no_key() -> None:
    """A payload without ts leaves the time to the receive time; without seq, no dedup key."""
    (got,) = native.decode(_message("city/luciole/nantes/sensor/pedestrian/ped-7", {"count": 0}))
    assert (got.ts_s, got.dedup_key, dict(got.values)) == (
        None,
        None,
        {"count": 0, "period_s": 0.0},
    )


def test_alarms_only_when_sent() -> None:
    """The model's default [] is not reported; an explicit empty list is."""
    topic = "city/luciole/nantes/sensor/water/m-1"
    (silent,) = native.decode(_message(topic, {"total_m3": 3}))
    (cleared,) = native.decode(_message(topic, {"total_m3": 3, "alarms": []}))
    assert "alarms" not in silent.values and cleared.values["alarms"] == []


@pytest.mark.parametrize(
    ("topic", "body", "topics", "reason"),
    [
        ("city/luciole/nantes/sensor/pedestrian/ped-7", {"count": 1}, None, "no_topics"),
        ("city/luciole/lyon/sensor/pedestrian/ped-7", {"count": 1}, TOPICS, "bad_topic"),
        ("city/luciole/nantes/sensor/pedestrian/", {"count": 1}, TOPICS, "bad_topic"),
        ("city/luciole/nantes/sensor/pedestrian/a/b", {"count": 1}, TOPICS, "bad_topic"),
        ("city/luciole/nantes/lamp/seg-1/state", {"count": 1}, TOPICS, "bad_topic"),
        ("city/luciole/nantes/sensor/bike/b-1", {"count": 1}, TOPICS, "unknown_kind"),
        ("city/luciole/nantes/sensor/pedestrian/ped-7", {"count": -1}, TOPICS, "invalid"),
        ("city/luciole/nantes/sensor/pedestrian/ped-7", {"count": 1, "x": 1}, TOPICS, "invalid"),
        ("city/luciole/nantes/sensor/pedestrian/ped-7", [1], TOPICS, "bad_json"),
        ("city/luciole/nantes/sensor/bin/bin-1", {}, TOPICS, "no_readings"),
        (
            "city/luciole/nantes/sensor/water/m-1",
            {"total_m3": 1, "alarms": ["x"]},
            TOPICS,
            "invalid",
        ),
    ],
)
def test_refusals(topic: str, body: object, topics: Topics | None, reason: str) -> None:
    """Topic layout missing, foreign or malformed topics, unknown kinds, bad bodies: refused."""
    assert _reason(_message(topic, body, topics)) == reason
