"""How the daemon takes messages from its MQTT client: in batches, straight off the socket.

aiomqtt wraps each message in an object of its own, queues it, and hands it to an async
iterator that starts a task per message; at tens of thousands of messages a second that
machinery, and paho's own reading (see `gateway.mqtt.framing`), cost more than handling the
messages. `Inbox` uses paho's public callbacks on the client aiomqtt made: `on_socket_open`
puts a `ReadBuffer` between paho and the socket, which delivers PUBLISH packets here, and
`on_message` takes whatever paho still decodes itself. Both run in the event loop's thread,
where aiomqtt reads the socket; the daemon takes everything that arrived since it last looked.
Acknowledgements go back in the order the messages came (MQTT requires it), once the batch
they belong to is stored. A payload above `max_payload` reaches the daemon as its first
`head_bytes` with its size and digest (`Received.oversize`; see `gateway.mqtt.framing`).

That fast path relies on private parts of aiomqtt and paho (`gateway.mqtt.hooks`). When one
is missing or the versions were not tested, the inbox takes the public path instead: every
message through paho's `on_message`, every acknowledgement through `ack()`, a lost connection
seen through `on_disconnect`. It keeps the same guarantees at a lower rate (bench/ingest.py
measures both) and says so once at start-up.
"""

import asyncio
import functools
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

from gateway.logs import event
from gateway.mqtt import hooks
from gateway.mqtt.framing import HEAD_BYTES, ReadBuffer, Received, cut

__all__ = ["Inbox", "Received"]

log = logging.getLogger("luciole.gateway")

PUBACK = mqtt.PUBACK
_PUBACK = struct.Struct("!BBH")  # type, remaining length 2, packet id (MQTT 3.1.1 and 5)


class Inbox:
    """The messages of one aiomqtt client, in batches. Made before the client connects: a
    persistent session's backlog starts as soon as the broker accepts the connection.

    `fast` says which path it took (see the module docstring)."""

    def __init__(
        self,
        client: aiomqtt.Client,
        *,
        mqtt5: bool = False,
        max_payload: int | None = None,
        head_bytes: int = HEAD_BYTES,
    ) -> None:
        self._client = client
        self._paho = hooks.paho_of(client)
        self._mqtt5 = mqtt5
        self._max_payload = max_payload
        self._head_bytes = head_bytes
        self._waiting: list[Received] = []
        self._arrived = asyncio.Event()
        self._watched: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None  # why aiomqtt says the connection ended
        self._connected = True  # the public path's view, from paho's callbacks
        self._acks = bytearray()  # PUBACK packets not yet handed to paho
        self._flush_scheduled = False
        self._open_socket = self._paho.on_socket_open  # aiomqtt's, which the buffer calls
        self._paho.on_message = self._on_message
        self.fast = self._choose_path()
        self._gone()  # watch the first connection's end from the start

    def _choose_path(self) -> bool:
        """The fast path when its hooks are there; otherwise say why, and follow paho."""
        why = hooks.why_not_fast(self._client)
        if why is not None:
            warn_public_path(why)
            self._follow_connection()
            return False
        self._paho.on_socket_open = self._on_socket_open
        return True

    @property
    def waiting(self) -> int:
        """Messages received and not yet taken."""
        return len(self._waiting)

    async def batch(self, limit: int | None = None) -> list[Received]:
        """The messages received since the last call, the oldest `limit` of them at most
        (waits for at least one).

        Raises `aiomqtt.MqttError` once the connection is lost and nothing is left to take.
        """
        while not self._waiting:
            if self._gone():
                raise aiomqtt.MqttError("Disconnected during message iteration") from self._lost
            self._arrived.clear()
            await self._arrived.wait()
        if limit is None or len(self._waiting) <= limit:
            taken, self._waiting = self._waiting, []
        else:
            taken = self._waiting[:limit]
            del self._waiting[:limit]
        return taken

    def acker(self, batch: list[Received]) -> Callable[[], None]:
        """A function that acknowledges `batch`, in the order it was received.

        On the fast path, QoS 1 acknowledgements go out together: PUBACK packets back to
        back, the bytes paho's `ack()` would queue one by one (with a log call and a system
        call each, and a TCP segment each). Every batch acked in one turn of the event loop
        (a commit acks several) shares one write. They go through paho's outgoing queue, so
        they never cut into a packet paho is still writing. Anything else uses `ack()`, in
        order after what is already queued.
        """
        if self.fast and all(m.qos < 2 for m in batch):
            acks = b"".join(_PUBACK.pack(PUBACK, 2, m.mid) for m in batch if m.qos == 1)
            return lambda: self._queue_acks(acks)
        mids = [(m.mid, m.qos) for m in batch if m.qos > 0]

        def one_by_one() -> None:
            self.flush_acks()
            for mid, qos in mids:
                self._paho.ack(mid, qos)

        return one_by_one

    def flush_acks(self) -> None:
        """Hand paho the acknowledgements gathered so far (the daemon calls it before it
        disconnects; otherwise the event loop does, once per turn)."""
        self._flush_scheduled = False
        if self._acks:
            acks, self._acks = bytes(self._acks), bytearray()
            hooks.queue_packets(self._paho, PUBACK, acks)

    def _queue_acks(self, acks: bytes) -> None:
        self._acks += acks
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_acks)

    def _deliver(self, message: Received) -> None:
        self._waiting.append(message)
        self._arrived.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError as error:  # brokers refuse such topics; this one is refused
            topic = repr(error.object)  # the topic's bytes, as the framing gives them
        received = Received(topic, bytes(message.payload), message.mid, message.qos)
        self._deliver(cut(received, self._max_payload, self._head_bytes))

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho has just set its socket and sends CONNECT next: nothing was read yet.
        # aiomqtt sets its socket options (TCP_NODELAY) only on what is a socket.socket, which
        # the buffer is not: set here, or Nagle holds a lamp command behind the previous
        # segment's TCP acknowledgement (milliseconds, measured by bench/latency.py).
        if isinstance(sock, socket.socket):
            for option in hooks.socket_options(self._client):
                sock.setsockopt(*option)
        buffered = ReadBuffer(
            sock,
            self._deliver,
            mqtt5=self._mqtt5,
            max_payload=self._max_payload,
            head_bytes=self._head_bytes,
        )
        hooks.replace_socket(client, buffered)
        if self._open_socket is not None:
            self._open_socket(client, userdata, buffered)

    def _gone(self) -> bool:
        """The connection `batch()` serves has ended."""
        future = hooks.disconnect_future(self._client)  # a new one per connection
        if future is not None and future is not self._watched:
            self._watched = future
            future.add_done_callback(self._disconnected)
        if future is not None and future.done():
            return True
        return not self.fast and not self._connected

    def _disconnected(self, future: "asyncio.Future[None]") -> None:
        # Take the exception aiomqtt set on an unexpected disconnection: nothing else reads
        # it, and asyncio logs "Future exception was never retrieved" when it is collected.
        # The public path watches it too when it is there, but does not need it.
        self._lost = None if future.cancelled() else future.exception()
        self._arrived.set()

    def _follow_connection(self) -> None:
        """On the public path, learn of a lost connection from paho's callbacks, in front of
        aiomqtt's own (which it still needs)."""
        on_connect, on_disconnect = self._paho.on_connect, self._paho.on_disconnect

        def connected(*args: Any) -> None:
            self._connected = True
            if on_connect is not None:
                on_connect(*args)

        def disconnected(*args: Any) -> None:
            if on_disconnect is not None:
                on_disconnect(*args)
            self._connected = False
            self._arrived.set()

        self._paho.on_connect = connected
        self._paho.on_disconnect = disconnected


@functools.cache  # once per reason and process: the daemon makes an inbox per connection
def warn_public_path(reason: str) -> None:
    """Say, once, that messages take the slower public path, and why."""
    event(
        log,
        logging.WARNING,
        "MQTT inbox on the slower public path (paho's on_message and ack); "
        f"install the tested versions for the fast one: {hooks.tested_range()}",
        reason=reason,
    )
