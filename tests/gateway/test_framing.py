"""The read buffer between paho and the socket: PUBLISH packets out, the rest to paho, in order."""

import contextlib
import hashlib
import socket
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from gateway.mqtt import framing
from gateway.mqtt.framing import HEAD_BYTES, Oversize, ReadBuffer, Received
from tests.conftest import DECODER_EXAMPLES

PINGRESP = b"\xd0\x00"
SUBACK = b"\x90\x03\x00\x01\x01"
PUBACK = b"\x40\x02\x00\x07"


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(
    topic: bytes, payload: bytes, qos: int, mid: int, properties: bytes | None = None
) -> bytes:
    """A PUBLISH packet; `properties` (MQTT 5) is the property block's content."""
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    if properties is not None:
        body += _length(len(properties)) + properties
    return bytes([0x30 | qos << 1]) + _length(len(body) + len(payload)) + body + payload


def read_like_paho(buffer: ReadBuffer) -> bytes:
    """One packet read the way paho reads: its first byte, each length byte, then the rest."""
    packet = buffer.recv(1)
    while True:
        byte = buffer.recv(1)
        packet += byte
        if not byte[0] & 0x80:
            break
    length, shift = 0, 0
    for value in packet[1:]:
        length |= (value & 0x7F) << shift
        shift += 7
    rest = b""
    while len(rest) < length:
        rest += buffer.recv(length - len(rest))
    return packet + rest


class Wire:
    """A connected socket pair: the test writes at one end, a ReadBuffer reads the other."""

    def __init__(
        self, mqtt5: bool = False, recv_bytes: int = 64 * 1024, max_payload: int | None = None
    ) -> None:
        self.far, near = socket.socketpair()
        near.setblocking(False)
        self.events: list[object] = []
        self.buffer = ReadBuffer(
            near, self.events.append, mqtt5=mqtt5, recv_bytes=recv_bytes, max_payload=max_payload
        )

    def wake(self) -> None:
        """What aiomqtt's reader does when the socket is readable: read while pending()."""
        while True:
            with contextlib.suppress(BlockingIOError):  # paho: "nothing more for now"
                self.events.append(read_like_paho(self.buffer))
            if not self.buffer.pending():
                return

    def close(self) -> None:
        self.far.close()
        self.buffer.close()


def _chunks(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        yield data[start:cut]
        start = cut
    yield data[start:]


# A PUBLISH to write as (topic, payload, qos, mid); any other packet is its bytes.
Publish = tuple[bytes, bytes, int, int]

topics = st.text(min_size=1, max_size=40).map(lambda t: t.encode("utf-8"))
publishes = st.tuples(
    topics, st.binary(max_size=300), st.sampled_from([0, 1]), st.integers(1, 65535)
)
others = st.sampled_from([PINGRESP, SUBACK, PUBACK, publish(b"q2/topic", b"x", 2, 9)])
streams = st.lists(st.one_of(publishes, others), max_size=30)


@settings(max_examples=DECODER_EXAMPLES, deadline=None)
@given(
    streams,
    st.lists(st.integers(0, 10_000), max_size=12),
    st.booleans(),
    st.sampled_from([7, 64, 64 * 1024]),
    st.sampled_from([None, 100]),
)
def test_any_stream_cut_anywhere_gives_every_packet_once_in_order(
    packets: list[bytes | Publish],
    cuts: list[int],
    mqtt5: bool,
    recv_bytes: int,
    limit: int | None,
) -> None:
    """PUBLISH QoS 0/1 packets are delivered (those over the payload limit as excerpts), all
    others are handed to paho, in stream order."""
    wire = Wire(mqtt5, recv_bytes, limit)
    expected: list[object] = []
    data = b""
    for packet in packets:
        if isinstance(packet, bytes):
            data += packet
            expected.append(packet)
        else:
            topic, payload, qos, mid = packet
            data += publish(topic, payload, qos, mid, b"\x01\x01" if mqtt5 else None)
            expected.append(
                framing.cut(Received(topic.decode(), payload, mid if qos else 0, qos), limit)
            )
    try:
        for chunk in _chunks(data, cuts):
            wire.far.sendall(chunk)
            for _ in range(1 + len(chunk) // recv_bytes):  # one socket read per wake-up
                wire.wake()
        assert wire.events == expected
    finally:
        wire.close()


@given(topics, st.binary(max_size=200), st.sampled_from([0, 1]), st.integers(1, 65535))
def test_the_test_encoder_agrees_with_paho(
    topic: bytes, payload: bytes, qos: int, mid: int
) -> None:
    """The PUBLISH bytes these tests build are what paho itself decodes them to be."""
    packet = publish(topic, payload, qos, mid)
    body_at = 1 + next(i for i, byte in enumerate(packet[1:], 1) if byte < 0x80)
    assert _length(len(packet) - body_at) == packet[1:body_at]
    decoded = _packet.decode_publish(packet[0], packet[body_at:], MQTTProtocolVersion.MQTTv311)
    assert (decoded.topic, bytes(decoded.payload), decoded.qos) == (topic, payload, qos)
    assert decoded.mid == (mid if qos else 0)


def test_mqtt5_properties_are_skipped_whatever_their_length() -> None:
    """A PUBLISH with a long MQTT 5 property block still yields exactly its payload."""
    wire = Wire(mqtt5=True)
    properties = b"\x26" + b"\x00\x03key" + b"\x00\xc8" + b"v" * 200  # one user property
    wire.far.sendall(publish(b"a/b", b'{"count": 1}', 1, 42, properties))
    wire.wake()
    assert wire.events == [Received("a/b", b'{"count": 1}', 42, 1)]
    wire.close()


def test_an_empty_topic_goes_to_paho() -> None:
    """A PUBLISH without a topic (an MQTT 5 topic alias, or a broken one) is paho's to judge."""
    wire = Wire()
    packet = publish(b"", b"x", 1, 3)
    wire.far.sendall(packet + PINGRESP)
    wire.wake()
    assert wire.events == [packet, PINGRESP]
    wire.close()


def test_a_length_of_five_bytes_is_handed_to_paho_to_refuse() -> None:
    """A remaining length longer than MQTT allows reaches paho, which disconnects on it."""
    wire = Wire()
    wire.far.sendall(b"\x30\xff\xff\xff\xff\x01")
    assert wire.buffer.recv(1) == b"\x30"
    assert b"".join(wire.buffer.recv(1) for _ in range(5)) == b"\xff\xff\xff\xff\x01"
    wire.close()


def test_a_closed_connection_reads_as_empty_after_the_last_whole_packet() -> None:
    """When the broker closes, complete packets are still delivered, then paho sees b""."""
    wire = Wire()
    whole = publish(b"t", b"1", 1, 5)
    wire.far.sendall(whole + publish(b"t", b"2", 1, 6)[:4])
    wire.far.close()
    wire.wake()  # the whole packet, then the reader waits for the rest
    assert wire.events == [Received("t", b"1", 5, 1)]
    assert wire.buffer.recv(1) == b"", "the next wake-up finds the connection closed"
    wire.buffer.close()


def test_the_socket_is_read_once_per_wake_up() -> None:
    """A wake-up reads the socket once: a flood cannot keep the event loop in the reader."""
    wire = Wire(recv_bytes=64)
    messages = [publish(b"t", bytes([n]) * 20, 1, n + 1) for n in range(20)]
    wire.far.sendall(b"".join(messages))
    wire.wake()
    first = len(wire.events)
    assert 0 < first < len(messages)
    while len(wire.events) < len(messages):
        wire.wake()
    assert [e.mid for e in wire.events if isinstance(e, Received)] == list(range(1, 21))
    wire.close()


LIMIT = 1000


def _excerpt(topic: str, payload: bytes, mid: int) -> Received:
    """What the buffer delivers of a payload over the limit."""
    oversize = Oversize(len(payload), hashlib.sha256(payload).hexdigest())
    return Received(topic, payload[:HEAD_BYTES], mid, 1, oversize)


def test_a_payload_over_the_limit_streams_through_as_an_excerpt() -> None:
    """An 8 MiB PUBLISH is never held whole (the buffer's peak memory stays under 1 MiB): its
    first KiB, size and SHA-256 are delivered, and the packets after it follow in order."""
    wire = Wire(max_payload=LIMIT)
    payload = bytes(range(256)) * 32768
    data = publish(b"big", payload, 1, 9) + PINGRESP + publish(b"t", b"after", 1, 10)
    tracemalloc.start()
    try:
        for at in range(0, len(data), 64 * 1024):
            wire.far.sendall(data[at : at + 64 * 1024])
            wire.wake()
        while len(wire.events) < 3:
            wire.wake()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert wire.events == [_excerpt("big", payload, 9), PINGRESP, Received("t", b"after", 10, 1)]
    assert peak < 1024 * 1024
    wire.close()


@pytest.mark.parametrize("recv_bytes", [7, 64 * 1024], ids=["in-pieces", "at-once"])
@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT, LIMIT + 1, 5 * LIMIT])
def test_the_limit_is_on_the_payload_alone(size: int, recv_bytes: int) -> None:
    """Up to the limit a payload is delivered whole; one byte more and its excerpt is, with
    its size and digest, whether it is read in small pieces or at once."""
    wire = Wire(recv_bytes=recv_bytes, max_payload=LIMIT)
    payload = bytes(n % 251 for n in range(size))
    wire.far.sendall(publish(b"a/long/topic/name", payload, 1, 3) + PINGRESP)
    while len(wire.events) < 2:
        wire.wake()
    whole = Received("a/long/topic/name", payload, 3, 1)
    expected = whole if size <= LIMIT else _excerpt("a/long/topic/name", payload, 3)
    assert wire.events == [expected, PINGRESP]
    wire.close()


def test_the_public_path_cuts_a_payload_over_the_limit_the_same_way() -> None:
    """What paho decoded itself is cut to the same excerpt, size and digest."""
    payload = b"z" * (LIMIT + 5)
    assert framing.cut(Received("t", payload, 4, 1), LIMIT) == _excerpt("t", payload, 4)
    assert framing.cut(Received("t", b"small", 4, 1), LIMIT) == Received("t", b"small", 4, 1)
