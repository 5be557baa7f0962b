"""A flood for bench/flood.py: a raw MQTT 3.1.1 client in a process of its own.

`python bench/loads/raw_flood.py PORT TOPIC RATE SECONDS QOS` publishes small native readings
(`{"count": 1, "seq": n}`) on TOPIC at RATE a second for at most SECONDS (or until SIGTERM),
then prints how many it sent. Packets are built by hand and written in bursts, so that the
publisher costs the machine little next to the broker and the daemon it loads; at QoS 1 a
thread reads and drops the broker's acknowledgements.
"""

import os
import signal
import socket
import struct
import sys
import threading
import time


def _length(n: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, seq: int, qos: int) -> bytes:
    packet_id = struct.pack("!H", 1 + seq % 65535) if qos else b""
    body = struct.pack("!H", len(topic)) + topic + packet_id + b'{"count": 1, "seq": %d}' % seq
    return bytes([0x30 | qos << 1]) + _length(len(body)) + body


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    name = f"flood-{os.getpid()}".encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(name)) + name
    sock.sendall(b"\x10" + _length(len(variable)) + variable)
    sock.recv(4)  # CONNACK
    threading.Thread(target=_discard, args=(sock,), daemon=True).start()
    return sock


def _discard(sock: socket.socket) -> None:
    """Read and drop what the broker sends (acknowledgements)."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def flood(port: int, topic: str, rate: float, seconds: float, qos: int) -> int:
    """Publish at `rate` for `seconds` or until SIGTERM; how many were sent."""
    sock = _connect(port)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # the phase is over: say how many
    name, sent, start = topic.encode(), 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds and not stopped.is_set():
        due = min(int(elapsed * rate), sent + 5000)
        sock.sendall(b"".join(_publish(name, seq, qos) for seq in range(sent, due)))
        sent = max(sent, due)
        time.sleep(0.002)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    return sent


if __name__ == "__main__":
    port, topic, rate, seconds, qos = sys.argv[1:6]
    print(flood(int(port), topic, float(rate), float(seconds), int(qos)), flush=True)
