"""The inbox against a real broker, on both paths: every message once, in order; unacked ones
come back; a lost connection ends the wait and leaves no exception behind."""

import asyncio
import gc
import socket
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controllers.settings.site import BrokerSettings
from gateway.mqtt import hooks
from gateway.mqtt.client import client_for
from gateway.mqtt.framing import ReadBuffer
from gateway.mqtt.inbox import Inbox, Received, warn_public_path
from tests.conftest import BrokerInfo, new_broker

# A guard against a hang, not a speed: 2,000 round trips took 1.4 s on a loaded box, and how
# fast the inbox is belongs to bench/ingest.py.
TIMEOUT_S = 60.0
PATHS = ["fast", "public"]


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The inbox's path: "public" is what it takes when the private hooks are not there (the
    detector says so, and aiomqtt's disconnection future is out of its sight)."""
    if request.param == "public":
        monkeypatch.setattr(hooks, "why_not_fast", lambda *_: "the test takes the public path")
        monkeypatch.setattr(hooks, "disconnect_future", lambda _: None)
    warn_public_path.cache_clear()
    yield request.param
    warn_public_path.cache_clear()


def _client(broker: BrokerInfo, name: str, v5: bool) -> aiomqtt.Client:
    """The daemon's own client: persistent session, manual acknowledgement."""
    settings = BrokerSettings(url=broker.url, client_id=name, protocol="5" if v5 else "3.1.1")
    return client_for(settings, Path("."))


def _inbox(client: aiomqtt.Client, path: str, *, mqtt5: bool = False) -> Inbox:
    """An inbox that took the path the test asked for."""
    inbox = Inbox(client, mqtt5=mqtt5)
    assert inbox.fast == (path == "fast")
    return inbox


def _tagged() -> Properties:
    """Properties a sender may attach: the inbox must skip them, whatever they are."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = [("origin", "test" * 20)]
    properties.MessageExpiryInterval = 3600
    properties.ContentType = "application/json"
    return properties


async def _take(inbox: Inbox, count: int, *, ack: bool) -> list[Received]:
    """`count` messages; acked batch by batch if `ack` (the broker sends only so many
    unacknowledged messages at a time)."""
    taken: list[Received] = []
    async with asyncio.timeout(TIMEOUT_S):
        while len(taken) < count:
            batch = await inbox.batch()
            if ack:
                inbox.acker(batch)()
            taken += batch
    return taken


@pytest.mark.parametrize("v5", [False, True], ids=["mqtt3.1.1", "mqtt5"])
async def test_messages_arrive_once_in_order_and_unacked_ones_come_back(
    broker: BrokerInfo, v5: bool, path: str
) -> None:
    """2,000 QoS 1 messages arrive in order, once; after a reconnect the unacked are resent."""
    topic, name = f"inbox/{uuid.uuid4().hex[:8]}", f"inbox-{uuid.uuid4().hex[:8]}"
    sent = [f'{{"seq": {n}}}'.encode() for n in range(2000)]
    held = [f"held {n}".encode() for n in range(5)]  # fewer than the broker's in-flight limit
    first = _client(broker, name, v5)
    inbox = _inbox(first, path, mqtt5=v5)
    async with first, _client(broker, f"{name}-pub", v5) as sender:
        await first.subscribe(topic, qos=1)
        taking = asyncio.create_task(_take(inbox, len(sent), ack=True))
        for body in sent:
            await sender.publish(topic, body, qos=1, properties=_tagged() if v5 else None)
        got = await taking
        assert [m.payload for m in got] == sent
        assert {(m.topic, m.qos) for m in got} == {(topic, 1)}
        for body in held:
            await sender.publish(topic, body, qos=1)
        assert [m.payload for m in await _take(inbox, len(held), ack=False)] == held
    again = _client(broker, name, v5)
    inbox = _inbox(again, path, mqtt5=v5)
    async with again:
        assert [m.payload for m in await _take(inbox, len(held), ack=True)] == held


async def test_a_lost_connection_ends_the_batch_wait(broker: BrokerInfo, path: str) -> None:
    """`batch()` raises MqttError when the connection goes, instead of waiting for ever."""
    client = _client(broker, f"inbox-{uuid.uuid4().hex[:8]}", False)
    inbox = _inbox(client, path)
    async with client:
        waiting = asyncio.create_task(inbox.batch())
        hooks.paho_of(client).disconnect()  # what a dropped link looks like to aiomqtt
        with pytest.raises(aiomqtt.MqttError):
            await asyncio.wait_for(waiting, TIMEOUT_S)


async def test_the_socket_keeps_tcp_nodelay(broker: BrokerInfo, path: str) -> None:
    """The daemon's socket has TCP_NODELAY on both paths (aiomqtt sets it only on a plain
    socket, the fast path on its buffer): without it a lamp command can wait milliseconds
    behind the previous segment."""
    client = _client(broker, f"inbox-{uuid.uuid4().hex[:8]}", False)
    inbox = _inbox(client, path)
    async with client:
        sock = hooks.paho_of(client).socket()
        assert isinstance(sock, ReadBuffer) == inbox.fast
        assert isinstance(sock, ReadBuffer | socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def _lose_to_a_broker_restart(tmp_path: Path, path: str) -> "weakref.ref[aiomqtt.Client]":
    """Serve a client until its broker stops, as the daemon does; what is left of it."""
    broker = new_broker(tmp_path)
    broker.start()
    try:
        client = _client(broker.info, f"inbox-{uuid.uuid4().hex[:8]}", False)
        inbox = _inbox(client, path)
        with pytest.raises(aiomqtt.MqttError, match="Disconnected"):
            async with client:
                waiting = asyncio.create_task(inbox.batch())
                await asyncio.to_thread(broker.stop)
                await asyncio.wait_for(waiting, TIMEOUT_S)
    finally:
        broker.stop()
    return weakref.ref(client)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
async def test_a_broker_restart_leaves_no_exception_unretrieved(
    tmp_path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the broker goes away, nothing logs "Future exception was never retrieved" once
    the old client is collected (aiomqtt's "Unexpected disconnection" is taken by the inbox,
    on the public path too while aiomqtt still has that future)."""
    if not fast:
        monkeypatch.setattr(hooks, "why_not_fast", lambda *_: "the test takes the public path")
    unhandled: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        left = await _lose_to_a_broker_restart(tmp_path, "fast" if fast else "public")
        gc.collect()
        assert left() is None, "the client outlived the test: its futures were never checked"
    finally:
        loop.set_exception_handler(previous)
    assert [context.get("message") for context in unhandled] == []
