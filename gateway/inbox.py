"""How the daemon takes messages from its MQTT client: in batches, straight from paho.

aiomqtt wraps each message in an object of its own, queues it, and hands it to an async
iterator that starts a task per message; and paho, asked to read, reads one packet, with a
system call for its first byte, one per byte of its length, and one for the rest. At tens of
thousands of messages a second that machinery costs more than handling the messages does.

`Inbox` replaces both for the daemon, with paho's public callbacks on the client aiomqtt made:
- `on_message` appends to a list (paho calls it in the event loop's thread, where aiomqtt reads
  the socket), and the daemon takes everything that arrived since it last looked;
- `on_socket_open` puts a `ReadBuffer` between paho and the socket: one `recv` of up to 64 KiB,
  from which paho's small reads are served. aiomqtt's reader keeps calling paho while the
  socket says bytes are `pending()` (the hook it has for TLS), so one wake-up of the event loop
  handles every packet that came in one read.
Acknowledgements go back in the order the messages came (MQTT requires it), once the batch
they belong to is stored.
"""

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any, NamedTuple

import aiomqtt
import paho.mqtt.client as mqtt

RECV_BYTES = 64 * 1024


class Received(NamedTuple):
    """One message as paho delivered it: what the daemon needs, nothing more."""

    topic: str
    payload: bytes
    mid: int
    qos: int


class ReadBuffer:
    """A socket whose reads come from a buffer refilled `RECV_BYTES` at a time.

    It has the methods paho uses on a socket (recv, send, close, fileno, setblocking) and
    `pending()`, the bytes read from the socket (or decrypted by TLS) not yet taken.
    """

    def __init__(self, sock: socket.socket | ssl.SSLSocket, recv_bytes: int = RECV_BYTES) -> None:
        self._sock = sock
        self._recv_bytes = recv_bytes
        self._data = b""
        self._pos = 0
        self._may_read = True

    def recv(self, size: int) -> bytes:
        """Up to `size` buffered bytes. When the buffer is empty, the socket is read once per
        wake-up of the event loop: a steady stream must not keep the reader in its loop while
        the daemon's other tasks (storing, acknowledging, lamp commands) wait. Raises what the
        socket raises (BlockingIOError, TLS's want-read) when nothing is there yet."""
        if self._pos >= len(self._data):
            if not self._may_read and not self._tls_pending():
                raise BlockingIOError("read again when the event loop says the socket is ready")
            self._may_read = False
            self._data = self._sock.recv(self._recv_bytes)
            self._pos = 0
        start = self._pos
        self._pos = min(start + size, len(self._data))
        return self._data[start : self._pos]

    def pending(self) -> int:
        """Bytes taken from the socket and not yet given to paho; aiomqtt's reader asks after
        each packet, and stops at 0, which ends this wake-up."""
        left = len(self._data) - self._pos + self._tls_pending()
        if left == 0:
            self._may_read = True
        return left

    def _tls_pending(self) -> int:
        """Bytes TLS has decrypted but not handed out: the event loop cannot see those."""
        return self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)


class Inbox:
    """The messages of one aiomqtt client, in batches. Made before the client connects: a
    persistent session's backlog starts as soon as the broker accepts the connection."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._paho = client._client
        self._waiting: list[Received] = []
        self._arrived = asyncio.Event()
        self._watched: asyncio.Future[None] | None = None
        self._open_socket = self._paho.on_socket_open
        self._paho.on_socket_open = self._on_socket_open
        self._paho.on_message = self._on_message

    async def batch(self) -> list[Received]:
        """Every message received since the last call (waits for at least one).

        Raises `aiomqtt.MqttError` once the connection is lost and nothing is left to take.
        """
        while not self._waiting:
            if self._disconnected().done():
                raise aiomqtt.MqttError("Disconnected during message iteration")
            self._arrived.clear()
            await self._arrived.wait()
        taken, self._waiting = self._waiting, []
        return taken

    def acker(self, batch: list[Received]) -> Callable[[], None]:
        """A function that acknowledges `batch`, in the order it was received."""
        mids = [(m.mid, m.qos) for m in batch if m.qos > 0]

        def ack() -> None:
            for mid, qos in mids:
                self._paho.ack(mid, qos)

        return ack

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers refuse such topics; one that gets here is refused
            topic = repr(message._topic)
        self._waiting.append(Received(topic, bytes(message.payload), message.mid, message.qos))
        self._arrived.set()

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho has just set client._sock and sends CONNECT next: nothing was read yet.
        buffered = ReadBuffer(sock)
        client._sock = buffered
        if self._open_socket is not None:
            self._open_socket(client, userdata, buffered)

    def _disconnected(self) -> "asyncio.Future[None]":
        """aiomqtt's future for the current connection (it makes a new one per connection),
        watched so that a lost connection wakes `batch()`."""
        future = self._client._disconnected
        if future is not self._watched:
            self._watched = future
            future.add_done_callback(lambda _: self._arrived.set())
        return future
