"""The daemon's side of its MQTT socket: buffered reads, and PUBLISH packets taken out of them.

paho reads a packet with a system call for its first byte, one per byte of its length and one
for the rest, then spends more time on logging, matching per-topic callbacks and building a
message object than the daemon spends on the message. `ReadBuffer` sits between paho and the
socket (paho only needs recv, send, close, fileno, setblocking) and:
- reads the socket at most once per wake-up of the event loop, up to `RECV_BYTES` at a time;
- takes every complete QoS 0 or 1 PUBLISH packet out of what it read and gives its topic,
  payload and packet id to `deliver` (the daemon acknowledges with paho's `ack()` later);
- hands every other packet to paho byte for byte, so connection, subscriptions, pings and
  acknowledgements of our own publishes are paho's business as before, and so is anything
  unusual (QoS 2, a topic alias, a malformed packet: paho decides what to do with it).
Order is kept: a packet handed to paho is read before anything after it is delivered.

With `max_payload`, a PUBLISH whose payload is larger is never held whole: once its topic
and packet id are in, its payload streams through a SHA-256 as it arrives, and `deliver` is
given only its first `head_bytes` with the size and digest (`Received.oversize`), for the
daemon to refuse and dead-letter. A 50 MB payload used to be buffered whole (and then copied
whole again), taking the daemon from 73 to 381 MB. The broker's `max_packet_size` is the
real bound; this one keeps a broker without it from costing the daemon its memory.

aiomqtt's reader keeps calling paho while the socket says bytes are `pending()` (its hook for
TLS), so one wake-up handles every packet that one read brought.
"""

import hashlib
import socket
import ssl
from collections.abc import Callable
from typing import NamedTuple

RECV_BYTES = 64 * 1024
HEAD_BYTES = 1024
_PUBLISH = 3
_MAX_LENGTH_BYTES = 4  # MQTT's variable byte integer


class Oversize(NamedTuple):
    """A payload above the limit: its whole size and SHA-256 (hex); `Received.payload` then
    holds only its first bytes."""

    size: int
    sha256: str


class Received(NamedTuple):
    """One message as the daemon needs it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    oversize: Oversize | None = None


class _Skipping:
    """A PUBLISH too large to hold, while its payload streams by."""

    def __init__(self, topic: str, mid: int, qos: int, size: int, head_bytes: int) -> None:
        self.topic, self.mid, self.qos, self.size = topic, mid, qos, size
        self.left = size
        self.head = bytearray()
        self.head_bytes = head_bytes
        self.digest = hashlib.sha256()

    def eat(self, data: memoryview) -> None:
        self.left -= len(data)
        if len(self.head) < self.head_bytes:
            self.head += data[: self.head_bytes - len(self.head)]
        self.digest.update(data)

    def received(self) -> Received:
        oversize = Oversize(self.size, self.digest.hexdigest())
        return Received(self.topic, bytes(self.head), self.mid, self.qos, oversize)


def cut(message: Received, max_payload: int | None, head_bytes: int = HEAD_BYTES) -> Received:
    """`message` itself, or its first bytes with its size and digest when it is too large."""
    payload = message.payload
    if max_payload is None or len(payload) <= max_payload:
        return message
    oversize = Oversize(len(payload), hashlib.sha256(payload).hexdigest())
    return message._replace(payload=payload[:head_bytes], oversize=oversize)


class ReadBuffer:
    """A socket for paho whose PUBLISH packets go to `deliver` instead (see module docstring).

    `mqtt5`: the connection speaks MQTT 5 (a PUBLISH then carries properties, skipped here).
    """

    def __init__(
        self,
        sock: socket.socket | ssl.SSLSocket,
        deliver: Callable[[Received], None],
        *,
        mqtt5: bool = False,
        recv_bytes: int = RECV_BYTES,
        max_payload: int | None = None,
        head_bytes: int = HEAD_BYTES,
    ) -> None:
        self._sock = sock
        self._deliver = deliver
        self._mqtt5 = mqtt5
        self._recv_bytes = recv_bytes
        self._max_payload = max_payload
        self._head_bytes = head_bytes
        self._skipping: _Skipping | None = None
        self._buf = bytearray()
        self._pos = 0
        self._handing = 0  # bytes of the packet being handed to paho, still to give
        self._may_read = True
        self._closed = False  # the peer closed the connection (recv gave b"")

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes of the next packet paho is to handle. Raises BlockingIOError
        when there is none yet (after delivering the PUBLISH packets that were there)."""
        while not self._handing:
            if self._skipping is None:
                end = self._complete_packet()
                if end is not None:
                    if not self._take_publish(end):
                        self._handing = end - self._pos
                    continue
                if self._start_skipping():
                    continue
            elif self._skip_buffered():
                continue
            if self._closed:
                return b""
            self._read()
        count = min(size, self._handing)
        chunk = bytes(self._buf[self._pos : self._pos + count])
        self._pos += count
        self._handing -= count
        return chunk

    def pending(self) -> int:
        """Non-zero while there is something to handle without waiting for the socket: a
        complete packet buffered, or bytes TLS decrypted (the event loop cannot see those)."""
        if self._handing or self._tls_pending():
            return 1
        if self._skipping is None and self._complete_packet() is not None:
            return 1
        self._may_read = True  # the reader stops here: its next call is a new wake-up
        return 0

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def getsockopt(self, level: int, option: int) -> int:
        return self._sock.getsockopt(level, option)

    def _read(self) -> None:
        """One socket read, once per wake-up (a steady stream must not keep the reader in
        its loop while the daemon's other tasks wait); raises what the socket raises."""
        if not self._may_read and not self._tls_pending():
            raise BlockingIOError("read again when the event loop says the socket is ready")
        self._may_read = False
        data = self._sock.recv(self._recv_bytes)  # BlockingIOError, TLS want-read, resets
        del self._buf[: self._pos]  # bytearray drops a prefix without copying the rest
        self._pos = 0
        if data:
            self._buf += data
        else:
            self._closed = True

    def _tls_pending(self) -> int:
        return self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0

    def _complete_packet(self) -> int | None:
        """Where the packet at the read position ends, if it is all in the buffer."""
        found = _header(self._buf, self._pos)
        if found is None:
            return None
        end = found[0] + found[1]
        return end if end <= len(self._buf) else None

    def _take_publish(self, end: int) -> bool:
        """Deliver the packet ending at `end` if it is a PUBLISH this buffer handles."""
        buf, pos = self._buf, self._pos
        header = buf[pos]
        qos = (header >> 1) & 0x03
        if header >> 4 != _PUBLISH or qos > 1:
            return False
        start = pos + 2
        while buf[start - 1] & 0x80:
            start += 1  # to the first byte after the remaining length
        found = _publish_fields(buf, start, end, qos, self._mqtt5)
        if found is None:
            return False
        topic, mid, payload_at = found
        self._pos = end
        if self._max_payload is not None and end - payload_at > self._max_payload:
            payload = memoryview(buf)[payload_at:end]
            skipped = _Skipping(topic, mid, qos, end - payload_at, self._head_bytes)
            skipped.eat(payload)
            payload.release()
            self._deliver(skipped.received())
            return True
        self._deliver(Received(topic, bytes(buf[payload_at:end]), mid, qos))
        return True

    def _start_skipping(self) -> bool:
        """Start streaming the PUBLISH at the read position if its payload is too large
        and its topic and packet id are in (the packet itself is not complete yet)."""
        if self._max_payload is None:
            return False
        buf, pos = self._buf, self._pos
        header = _header(buf, pos)
        if header is None or header[1] <= self._max_payload:
            return False  # a packet this small is taken whole once it is in
        qos = (buf[pos] >> 1) & 0x03
        if buf[pos] >> 4 != _PUBLISH or qos > 1:
            return False
        start, end = header[0], header[0] + header[1]
        found = _publish_fields(buf, start, len(buf), qos, self._mqtt5)
        if found is None:
            return False  # not all of its fields yet (or not one to take): read on
        topic, mid, payload_at = found
        if end - payload_at <= self._max_payload:
            return False  # the topic took the rest: the payload is within the limit
        self._pos = payload_at
        self._skipping = _Skipping(topic, mid, qos, end - payload_at, self._head_bytes)
        return True

    def _skip_buffered(self) -> bool:
        """Stream what the buffer holds of the skipped payload; True once it is all in
        (and delivered)."""
        skipping = self._skipping
        assert skipping is not None
        take = min(skipping.left, len(self._buf) - self._pos)
        view = memoryview(self._buf)[self._pos : self._pos + take]
        skipping.eat(view)
        view.release()  # a bytearray with a view on it cannot be resized
        self._pos += take
        if skipping.left:
            return False
        self._skipping = None
        self._deliver(skipping.received())
        return True


def _publish_fields(
    buf: bytearray, start: int, end: int, qos: int, mqtt5: bool
) -> tuple[str, int, int] | None:
    """(topic, packet id, where the payload starts) of a PUBLISH body, or None when it is not
    one this buffer should decode (empty topic, as with an MQTT 5 topic alias; truncated)."""
    if end - start < 2:
        return None
    topic_end = start + 2 + (buf[start] << 8 | buf[start + 1])
    at = topic_end + (2 if qos else 0)
    if topic_end == start + 2 or at > end:
        return None
    mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
    if mqtt5:
        skipped = _skip_properties(buf, at, end)
        if skipped is None:
            return None
        at = skipped
    raw = bytes(buf[start + 2 : topic_end])
    try:
        topic = raw.decode("utf-8")
    except UnicodeDecodeError:  # brokers refuse such topics; one that gets here is refused
        topic = repr(raw)
    return topic, mid, at


def _skip_properties(buf: bytearray, at: int, end: int) -> int | None:
    """Past an MQTT 5 property block (a variable byte integer length, then the properties)."""
    length, shift = 0, 0
    for _ in range(_MAX_LENGTH_BYTES):
        if at >= end:
            return None
        byte = buf[at]
        at += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return at + length if at + length <= end else None
        shift += 7
    return None


def _header(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """(where the body starts, its length) of the packet at `pos`, once its remaining length
    is in the buffer; a fifth length byte gives (past it, 0): paho refuses such a packet."""
    length, shift, index = 0, 0, pos + 1
    for count in range(1, _MAX_LENGTH_BYTES + 2):
        if index >= len(buf):
            return None
        byte = buf[index]
        index += 1
        if count > _MAX_LENGTH_BYTES:
            return index, 0
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return index, length
