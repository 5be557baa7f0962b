"""The inbox against a real broker: every message once, in order; unacked ones come back."""

import asyncio
import socket
import uuid
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controllers.settings.site import BrokerSettings
from gateway.mqtt.client import client_for
from gateway.mqtt.framing import ReadBuffer
from gateway.mqtt.inbox import Inbox, Received
from tests.conftest import BrokerInfo

TIMEOUT_S = 10.0


def _client(broker: BrokerInfo, name: str, v5: bool) -> aiomqtt.Client:
    """The daemon's own client: persistent session, manual acknowledgement."""
    settings = BrokerSettings(url=broker.url, client_id=name, protocol="5" if v5 else "3.1.1")
    return client_for(settings, Path("."))


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
    broker: BrokerInfo, v5: bool
) -> None:
    """2,000 QoS 1 messages arrive in order, once; after a reconnect the unacked are resent."""
    topic, name = f"inbox/{uuid.uuid4().hex[:8]}", f"inbox-{uuid.uuid4().hex[:8]}"
    sent = [f'{{"seq": {n}}}'.encode() for n in range(2000)]
    held = [f"held {n}".encode() for n in range(5)]  # fewer than the broker's in-flight limit
    first = _client(broker, name, v5)
    inbox = Inbox(first, mqtt5=v5)
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
    inbox = Inbox(again, mqtt5=v5)
    async with again:
        assert [m.payload for m in await _take(inbox, len(held), ack=True)] == held


async def test_a_lost_connection_ends_the_batch_wait(broker: BrokerInfo) -> None:
    """`batch()` raises MqttError when the connection goes, instead of waiting for ever."""
    client = _client(broker, f"inbox-{uuid.uuid4().hex[:8]}", False)
    inbox = Inbox(client)
    async with client:
        waiting = asyncio.create_task(inbox.batch())
        client._client.disconnect()  # what a dropped link looks like to aiomqtt
        with pytest.raises(aiomqtt.MqttError):
            await asyncio.wait_for(waiting, TIMEOUT_S)


async def test_the_buffered_socket_keeps_tcp_nodelay(broker: BrokerInfo) -> None:
    """The daemon's socket still has TCP_NODELAY (aiomqtt sets it only on a plain socket):
    without it a lamp command can wait milliseconds behind the previous segment."""
    client = _client(broker, f"inbox-{uuid.uuid4().hex[:8]}", False)
    Inbox(client)
    async with client:
        sock = client._client.socket()
        assert isinstance(sock, ReadBuffer)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
