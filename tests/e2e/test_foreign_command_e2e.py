"""The daemon is the only voice on its command topics, on a real broker."""

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from gateway.mqtt.broker import free_port
from tests.conftest import BrokerInfo
from tests.e2e.support import TIMEOUT_S, running_daemon, write_policy, write_site


class Heard:
    """Every message a test client receives under one site, in order."""

    def __init__(self, client: aiomqtt.Client, site_id: str) -> None:
        self.client = client
        self.root = f"luciole/{site_id}"
        self.messages: list[tuple[str, dict[str, object]]] = []

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not done():
                message = await anext(self.client.messages)
                if str(message.topic).startswith(f"{self.root}/"):
                    self.messages.append((str(message.topic), json.loads(bytes(message.payload))))

    def on(self, suffix: str) -> list[dict[str, object]]:
        """The bodies received on `{root}/{suffix}`, oldest first."""
        return [body for topic, body in self.messages if topic == f"{self.root}/{suffix}"]

    def levels(self) -> dict[str, object]:
        """The last level each segment was told."""
        return {f"s{i}": self.on(f"lamp/s{i}/set")[-1]["level"] for i in range(1, 6)}

    def alerts(self) -> list[str]:
        """The topics of every foreign_command alert received."""
        return [t for t, _ in self.messages if t.startswith(f"{self.root}/alert/foreign_command/")]


def all_told(heard: Heard, level: float) -> Callable[[], bool]:
    def done() -> bool:
        told = [heard.on(f"lamp/s{i}/set") for i in range(1, 6)]
        return all(bodies and bodies[-1]["level"] == level for bodies in told)

    return done


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
        return str(answer.read().decode())


async def forge(broker: BrokerInfo, topic: str, payload: bytes) -> None:
    """What an ordinary sensor's login can do without an ACL: a retained lamp command."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"f-{uuid.uuid4().hex}") as c:
        await c.publish(topic, payload, qos=1, retain=True)


async def test_a_forged_retained_lamp_command_is_corrected_and_alerted(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """A retained `lamp/s3/set {"level": 0}` from another login is answered at once: the
    topic ends with the daemon's 30 %, retained, and a foreign_command alert for s3 is
    published (retained), naming what the lamp was told and what the forger asked; the
    daemon's metrics count it."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    port = free_port()
    site = write_site(tmp_path, broker, site_id, "30%", extra=f"metrics_port: {port}\n")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        heard = Heard(client, site_id)
        await client.subscribe([(f"{heard.root}/lamp/+/set", 1), (f"{heard.root}/alert/#", 1)])
        async with running_daemon(site):
            await heard.until(all_told(heard, 0.3))
            await forge(broker, f"{heard.root}/lamp/s3/set", b'{"level": 0}')
            await heard.until(lambda: {"level": 0} in heard.on("lamp/s3/set"))
            await heard.until(
                lambda: (
                    bool(heard.on("alert/foreign_command/s3"))
                    and heard.on("lamp/s3/set")[-1]["level"] == 0.3
                )
            )
            started = heard.on("alert/foreign_command/s3")[0]
            assert (started["type"], started["active"]) == ("foreign_command", True)
            assert (started["commanded"], started["actual"]) == (0.3, 0.0)
            metrics = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{port}/metrics")
            assert "luciole_foreign_commands_total 1.0" in metrics
            async with aiomqtt.Client(broker.host, broker.port, identifier=f"r-{site_id}") as late:
                await late.subscribe(f"{heard.root}/lamp/s3/set", qos=1)
                async with asyncio.timeout(TIMEOUT_S):
                    retained = json.loads(bytes((await anext(late.messages)).payload))
            assert (retained["level"], retained["reason"]) == (0.3, "schedule")


async def test_retained_commands_of_a_previous_run_raise_no_alert(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """A restarted daemon meets its previous run's retained commands (30 %) at subscribe
    time, before it has said anything: no alert for them; it tells every lamp its new level
    (50 %), and only a forgery after that is a foreign command."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        heard = Heard(client, site_id)
        await client.subscribe([(f"{heard.root}/lamp/+/set", 1), (f"{heard.root}/alert/#", 1)])
        async with running_daemon(site):
            await heard.until(all_told(heard, 0.3))
        write_policy(tmp_path, "50%")
        async with running_daemon(site):
            await heard.until(all_told(heard, 0.5))
            await forge(broker, f"{heard.root}/lamp/s1/set", b'{"level": 1}')
            await heard.until(lambda: bool(heard.alerts()))
            # Alerts go out in the order the daemon heard the commands: any about the
            # retained ones would have come first.
            assert heard.alerts()[0] == f"{heard.root}/alert/foreign_command/s1"
            await heard.until(lambda: heard.on("lamp/s1/set")[-1]["level"] == 0.5)
