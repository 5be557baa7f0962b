"""A flood for the end-to-end tests: one MQTT client publishing raw QoS 0 PUBLISH packets at a
paced rate, in a process of its own (so that the flood and the test's event loop do not share
an interpreter), for at most a given time."""

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


def _length(n: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _length(len(body)) + body


def _string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


def flood(port: int, topic: str, rate_per_s: float, seconds: float) -> None:
    """Publish `{"count": 1, "seq": n}` on `topic` at `rate_per_s` for `seconds`; say on
    standard output how many were sent, every tenth of a second's worth (or 10,000)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    name = f"flood-{time.monotonic_ns()}".encode()
    sock.sendall(_packet(0x10, _string(b"MQTT") + b"\x04\x02\x00\x3c" + _string(name)))
    sock.recv(4)  # CONNACK
    topic_bytes, sent, start = _string(topic.encode()), 0, time.monotonic()
    step = max(1, min(int(rate_per_s / 10), 10_000))
    while (elapsed := time.monotonic() - start) < seconds:
        due = min(int(elapsed * rate_per_s), sent + 5000)
        burst = (b'{"count": 1, "seq": %d}' % n for n in range(sent, due))
        sock.sendall(b"".join(_packet(0x30, topic_bytes + body) for body in burst))
        if due // step > sent // step:
            print(due, flush=True)
        sent = max(sent, due)
        time.sleep(0.002)  # a pacing step of the flood's own process, not a test's wait
    sock.close()


class Flood:
    """`with Flood(port, topic, rate_per_s, seconds):` floods while the block runs."""

    def __init__(self, port: int, topic: str, rate_per_s: float, seconds: float) -> None:
        self._command = [sys.executable, str(Path(__file__)), str(port), topic]
        self._command += [str(rate_per_s), str(seconds)]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Flood":
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE)
        return self

    async def sent(self, count: int) -> None:
        """Until the flood has sent `count` messages."""
        assert self._process is not None and self._process.stdout is not None
        while True:
            said = await asyncio.to_thread(self._process.stdout.readline)
            if not said:
                raise RuntimeError("the flood ended before sending that many")
            if int(said) >= count:
                return

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None and self._process.stdout is not None
        self._process.terminate()
        self._process.communicate(timeout=30)


if __name__ == "__main__":
    flood(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
