"""Native sensor messages become readings of registered devices, or reasoned rejections."""

import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.settings.site import Device
from gateway.ingest import MAX_PAYLOAD_BYTES, Reading, RecentSequences, Rejection, decode_native
from gateway.topics import Topics
from gateway.wire import BinPayload, PedestrianPayload, WaterPayload

TOPICS = Topics("luciole", "test-site")
DEVICES = {
    "ped-1": Device(kind="pedestrian", segment="a-1"),
    "bin-1": Device(kind="bin", segment="a-2", empty_distance_mm=1200, full_distance_mm=150),
    "water-1": Device(kind="water", segment="a-3"),
}
RECEIVED_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z
# A fresh checkout builds Hypothesis's Unicode tables during the first draw; that is not slowness.
FIRST_RUN_OK = settings(suppress_health_check=[HealthCheck.too_slow])


def decode(kind: str, device: str, payload: bytes | dict[str, object]) -> Reading | Rejection:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode_native(TOPICS, DEVICES, TOPICS.sensor(kind, device), raw, RECEIVED_S)


def reading(kind: str, device: str, payload: bytes | dict[str, object]) -> Reading:
    result = decode(kind, device, payload)
    assert isinstance(result, Reading), result
    return result


def rejection(kind: str, device: str, payload: bytes | dict[str, object]) -> Rejection:
    result = decode(kind, device, payload)
    assert isinstance(result, Rejection), result
    assert result.detail
    return result


def test_valid_pedestrian_reading() -> None:
    """A pedestrian count is read with its device, segment and fields."""
    got = reading(
        "pedestrian", "ped-1", {"count": 3, "period_s": 60, "direction": "forward", "seq": 7}
    )
    assert (got.device_id, got.kind, got.segment, got.received_s) == (
        "ped-1",
        "pedestrian",
        "a-1",
        RECEIVED_S,
    )
    assert got.payload == PedestrianPayload(count=3, period_s=60, direction="forward", seq=7)
    assert got.ts_s == RECEIVED_S  # no device time: the receive time stands in


def test_valid_bin_reading() -> None:
    """A bin fill with distance, temperature and tilt is read."""
    got = reading("bin", "bin-1", {"distance_mm": 420, "temperature_c": 12.5, "tilt": False})
    assert got.segment == "a-2"
    assert got.payload == BinPayload(distance_mm=420, temperature_c=12.5, tilt=False)


def test_valid_water_reading() -> None:
    """A water meter index with flow and alarms is read."""
    got = reading("water", "water-1", {"total_m3": 1234.5, "flow_m3h": 0.2, "alarms": ["leak"]})
    assert got.payload == WaterPayload(total_m3=1234.5, flow_m3h=0.2, alarms=["leak"])


@pytest.mark.parametrize(
    ("ts", "epoch_s"),
    [
        (1_767_225_600, 1_767_225_600.0),
        (1_767_225_600.5, 1_767_225_600.5),
        (1_767_225_600_250, 1_767_225_600.25),  # epoch milliseconds
        ("2026-01-01T00:00:00Z", 1_767_225_600.0),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600.0),
        ("2026-01-01T00:00:00.500Z", 1_767_225_600.5),
    ],
)
def test_timestamps_are_normalised_to_epoch_seconds(ts: object, epoch_s: float) -> None:
    """Epoch seconds, epoch milliseconds and RFC 3339 all give the same epoch seconds."""
    got = reading("pedestrian", "ped-1", {"count": 1, "ts": ts})
    assert got.ts_s == pytest.approx(epoch_s)


@pytest.mark.parametrize(
    ("kind", "device", "payload", "reason"),
    [
        ("pedestrian", "ped-1", b"{count: 1}", "bad_json"),
        ("pedestrian", "ped-1", b"[1, 2]", "bad_json"),
        ("pedestrian", "ped-1", b"", "bad_json"),
        ("pedestrian", "ped-1", b'{"count": 1, "note": "\xff\xfe"}', "not_utf8"),
        ("pedestrian", "ped-1", b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
        ("pedestrian", "ped-9", {"count": 1}, "unknown_device"),
        ("water", "ped-1", {"total_m3": 1}, "wrong_kind"),
        ("parking", "ped-1", {"free": 1}, "unknown_kind"),
        ("pedestrian", "ped-1", {"count": 1, "cuont": 2}, "invalid"),
        ("pedestrian", "ped-1", {"count": -1}, "invalid"),
        ("pedestrian", "ped-1", {"count": 1, "direction": "up"}, "invalid"),
        ("pedestrian", "ped-1", {"count": 1, "ts": "yesterday"}, "invalid"),
        ("bin", "bin-1", {"fill_ratio": 1.5}, "invalid"),
        ("water", "water-1", {"flow_m3h": 1}, "invalid"),
    ],
)
def test_rejections_carry_a_reason(
    kind: str, device: str, payload: bytes | dict[str, object], reason: str
) -> None:
    """Each kind of bad message is refused with its own machine reason and a detail."""
    assert rejection(kind, device, payload).reason == reason


def test_unknown_field_is_named_in_the_detail() -> None:
    """A sender's typo is reported as an unknown field with its name."""
    detail = rejection("pedestrian", "ped-1", {"count": 1, "cuont": 2}).detail
    assert "cuont: unknown field" in detail


def test_negative_count_detail_names_the_field_and_value() -> None:
    """The detail says which field was wrong and what was received."""
    detail = rejection("pedestrian", "ped-1", {"count": -1}).detail
    assert detail.startswith("count:")
    assert "(got -1)" in detail


def test_wrong_site_or_shape_of_topic_is_bad_topic() -> None:
    """Topics of another site, or not under sensor/, are refused as bad_topic."""
    for topic in (
        "luciole/other/sensor/pedestrian/ped-1",
        "luciole/test-site/lamp/a-1/set",
        "luciole/test-site/sensor/pedestrian",
        "luciole/test-site/sensor/a/b/c",
    ):
        result = decode_native(TOPICS, DEVICES, topic, b'{"count": 1}', RECEIVED_S)
        assert isinstance(result, Rejection)
        assert result.reason == "bad_topic"


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "ts",
    "seq",
    "count",
    "period_s",
    "direction",
    "distance_mm",
    "fill_ratio",
    "temperature_c",
    "tilt",
    "total_m3",
    "flow_m3h",
    "alarms",
    "extra",
]
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
TOPIC_ENDS = st.sampled_from(
    ["pedestrian/ped-1", "bin/bin-1", "water/water-1", "bin/ped-1", "water/nobody", "x/ped-1"]
)


@FIRST_RUN_OK
@given(TOPIC_ENDS, PAYLOADS)
def test_any_payload_gives_a_reading_or_a_rejection(end: str, payload: bytes) -> None:
    """Any bytes on any sensor topic give a Reading or a Rejection, never an exception."""
    result = decode_native(TOPICS, DEVICES, f"{TOPICS.root}/sensor/{end}", payload, RECEIVED_S)
    assert isinstance(result, Reading | Rejection)
    if isinstance(result, Rejection):
        assert result.reason
        assert result.detail


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 10_000,
        b'{"count": ' + b"9" * 5000 + b"}",
        b'{"count": 1, "ts": 1' + b"0" * 400 + b"}",
    ],
    ids=["deep-nesting", "5000-digit-count", "huge-int-ts"],
)
def test_hostile_json_gives_a_rejection(payload: bytes) -> None:
    """Deeply nested JSON and enormous numbers are rejected, not raised."""
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert isinstance(decode("pedestrian", "ped-1", payload), Rejection)


def test_infinite_timestamp_is_rejected() -> None:
    """A `ts` of Infinity is not a time and is refused."""
    assert isinstance(decode("pedestrian", "ped-1", b'{"count": 1, "ts": Infinity}'), Rejection)


def test_naive_timestamp_does_not_depend_on_the_host_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ts without offset is rejected or read as UTC, whatever the host's TZ is."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        result = decode("pedestrian", "ped-1", {"count": 1, "ts": "2026-01-01T00:00:00"})
    finally:
        monkeypatch.undo()
        time.tzset()
    utc = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert isinstance(result, Rejection) or result.ts_s == utc


def test_recent_sequences_drop_repeats_per_device() -> None:
    """A seq seen before for the same device is a repeat; another device's is not."""
    recent = RecentSequences()
    assert not recent.is_repeat("ped-1", 5)
    assert recent.is_repeat("ped-1", 5)
    assert not recent.is_repeat("ped-2", 5)
    assert not recent.is_repeat("ped-1", 6)


def test_recent_sequences_without_seq_never_repeat() -> None:
    """Messages without a sequence number are never dropped."""
    recent = RecentSequences()
    assert not recent.is_repeat("ped-1", None)
    assert not recent.is_repeat("ped-1", None)


def test_recent_sequences_forget_after_the_window() -> None:
    """Only the last `window` sequence numbers of a device are remembered."""
    recent = RecentSequences(window=3)
    for seq in (1, 2, 3, 4):
        assert not recent.is_repeat("ped-1", seq)
    assert not recent.is_repeat("ped-1", 1)  # forgotten: 4 came after it
    assert recent.is_repeat("ped-1", 4)
    assert recent.is_repeat("ped-1", 3)


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_recent_sequences_match_a_sliding_window(seqs: list[int]) -> None:
    """is_repeat agrees with a reference: seq among the last `window` distinct new seqs."""
    recent = RecentSequences(window=8)
    remembered: list[int] = []
    for seq in seqs:
        expected = seq in remembered
        assert recent.is_repeat("d", seq) == expected
        if not expected:
            remembered = [*remembered, seq][-8:]
