"""The shipped broker configuration (config/mosquitto/) lets each login do its job, no more.

mosquitto runs config/mosquitto/luciole.conf and acl as shipped, with two kinds of change,
made by `localized` and checked line by line by `unexpected_changes`: each listener's port
becomes a free one, and each file (password file, ACL, database, certificates) moves to a
folder of the test's own under its shipped name. Without openssl, the TLS listener's lines
are commented out and the tests that need it skip; nothing else differs from what ships.

A refused message is shown refused with a marker: after the refused publish has been
acknowledged, an allowed message is sent, and the observer receives the marker and not the
refused one (mosquitto queues a message for its subscribers before acknowledging it, and
keeps one subscriber's queue in order).
"""

import asyncio
import json
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import aiomqtt
import pytest
import yaml

from gateway.formats.common import MAX_PAYLOAD_BYTES
from gateway.mqtt.broker import free_port
from tests.conftest import BROKER_START_TIMEOUT_S, BrokerInfo, mosquitto_path
from tests.e2e.support import TIMEOUT_S, running_daemon, stderr_until, write_site

pytestmark = pytest.mark.skipif(
    mosquitto_path() is None,
    reason="mosquitto is not installed (apt-get install mosquitto): the shipped broker "
    "configuration is mosquitto's",
)

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "mosquitto"
PLAIN_PORT, TLS_PORT = 1883, 8883  # the shipped listeners
FILE_KEYS = frozenset(
    {"password_file", "acl_file", "persistence_location", "cafile", "certfile", "keyfile"}
)
TLS_LISTENER_KEYS = frozenset(
    {"listener", "cafile", "certfile", "keyfile", "require_certificate", "tls_version"}
    | {"use_username_as_clientid"}
)
# The ACL's logins: the daemon, an operator, two devices and a lamp segment of
# config/site.yaml, the network server; and a device and a segment of the daemon's test site.
LOGINS = (
    "luciole",
    "operator",
    "ped-port-07",
    "ped-port-10",
    "quai-du-port-07",
    "chirpstack",
    "counter-2",
    "s2",
)
SERVICE_LOGINS = frozenset({"luciole", "operator", "chirpstack"})
HEADERS_BYTES = 4096  # what luciole.conf allows above the payload limit for header and topic
UPLINK = "application/6f4e1c2a-0d3b-4c5e-9f7a-8b1c2d3e4f50/device/24e124713b123456/event/up"


def localized(shipped: str, folder: Path, ports: Mapping[int, int], tls: bool) -> str:
    """`shipped` with each listener on `ports[its port]` and each file in `folder` (same name);
    without `tls`, the TLS listener's lines (the last listener's) commented out."""
    lines: list[str] = []
    in_tls_listener = False
    for line in shipped.splitlines():
        in_tls_listener = in_tls_listener or line == f"listener {TLS_PORT}"
        lines.append(_localized_line(line, folder, ports, in_tls_listener and not tls))
    return "\n".join(lines) + "\n"


def _localized_line(line: str, folder: Path, ports: Mapping[int, int], drop_tls: bool) -> str:
    key, _, value = line.partition(" ")
    if drop_tls and key in TLS_LISTENER_KEYS:
        return f"#{line}"
    if key == "listener":
        port, *bind = value.split(" ")
        return " ".join(["listener", str(ports[int(port)]), *bind])
    if key in FILE_KEYS:
        slash = "/" if value.endswith("/") else ""
        return f"{key} {folder / PurePosixPath(value).name}{slash}"
    return line


def unexpected_changes(shipped: str, local: str, folder: Path, tls: bool) -> list[str]:
    """The changed lines that are not a listener's port, a file's folder or (without `tls`) a
    TLS listener line commented out: none, when the substitution did only what it says."""
    old_lines, new_lines = shipped.splitlines(), local.splitlines()
    if len(old_lines) != len(new_lines):
        return [f"{len(old_lines)} lines became {len(new_lines)}"]
    pairs = zip(old_lines, new_lines, strict=True)
    return [f"{a!r} -> {b!r}" for a, b in pairs if a != b and not _allowed(a, b, folder, tls)]


def _allowed(old: str, new: str, folder: Path, tls: bool) -> bool:
    key, _, value = old.partition(" ")
    new_key, _, new_value = new.partition(" ")
    if new == f"#{old}":
        return not tls and key in TLS_LISTENER_KEYS
    if key != new_key:
        return False
    if key == "listener":
        (port, *bind), (new_port, *new_bind) = value.split(" "), new_value.split(" ")
        return bind == new_bind and port != new_port
    moved = Path(new_value.rstrip("/"))
    return key in FILE_KEYS and (moved.parent, moved.name) == (folder, PurePosixPath(value).name)


def settings(conf: str) -> list[str]:
    """The lines mosquitto acts on: neither comments nor blank."""
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


@dataclass(frozen=True)
class ShippedBroker:
    """mosquitto running the shipped files, each login's password, and what was changed."""

    plain_port: int
    tls_port: int | None
    ca_file: Path
    passwords: Mapping[str, str]
    shipped_conf: str
    running_conf: str
    folder: Path

    def client(
        self,
        login: str,
        *,
        street: bool = False,
        identifier: str | None = None,
        clean_session: bool | None = None,
    ) -> aiomqtt.Client:
        """`login`'s client: from the street over TLS (when that listener runs) or, as the
        programs on the gateway connect, over loopback."""
        port = self.tls_port if street and self.tls_port is not None else self.plain_port
        context = (
            ssl.create_default_context(cafile=self.ca_file) if port != self.plain_port else None
        )
        return aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier=identifier or f"{login}-{uuid.uuid4().hex[:8]}",
            username=login,
            password=self.passwords[login],
            tls_context=context,
            clean_session=clean_session,
        )

    def require_tls(self) -> None:
        if self.tls_port is None:
            pytest.skip("openssl not found: the TLS listener was left out of the configuration")


def _certificates(folder: Path) -> None:
    """A throwaway CA and a broker certificate for 127.0.0.1, under the shipped file names."""
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    commands = [
        "req -x509 -newkey rsa:2048 -nodes -subj /CN=luciole-test-ca -days 1"
        " -keyout ca.key -out ca.crt",
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1"
        " -extfile san.ext -out server.crt",
    ]
    for command in commands:
        subprocess.run(["openssl", *command.split()], cwd=folder, check=True, capture_output=True)


def _passwords(binary: str, path: Path) -> dict[str, str]:
    """A password file made as config/mosquitto/README.md says, one login at a time."""
    tool = Path(binary).with_name("mosquitto_passwd")
    found = str(tool) if tool.exists() else shutil.which("mosquitto_passwd")
    if found is None:
        pytest.skip("mosquitto_passwd not found (it comes with mosquitto)")
    passwords = {login: uuid.uuid4().hex for login in LOGINS}
    for i, (login, password) in enumerate(passwords.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run([found, "-b", *create, str(path), login, password], check=True)
    return passwords


def _hand_over(folder: Path) -> None:
    """Run as root, mosquitto becomes its own user (nobody without one) before it reads the
    password file, the ACL and its database: that user gets the folder."""
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam("mosquitto")
    except KeyError:
        account = pwd.getpwnam("nobody")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)


def _read_log(process: "subprocess.Popen[bytes]", log: list[str], running: threading.Event) -> None:
    """Keep mosquitto's log (standard error, as shipped); signal once it says it runs."""
    assert process.stderr is not None
    with process.stderr:
        for line in process.stderr:
            log.append(line.decode(errors="replace"))
            if b" running" in line:
                running.set()
    running.set()  # exited: let the waiter look at the process


def _start(binary: str, conf: Path) -> "subprocess.Popen[bytes]":
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    running, log = threading.Event(), list[str]()
    threading.Thread(target=_read_log, args=(process, log, running), daemon=True).start()
    if not running.wait(BROKER_START_TIMEOUT_S) or process.poll() is not None:
        process.kill()
        process.wait()
        raise RuntimeError("mosquitto refused the shipped configuration:\n" + "".join(log))
    return process


@pytest.fixture(scope="module")
def shipped() -> Iterator[ShippedBroker]:
    """mosquitto on the shipped luciole.conf and acl, in a folder it may read as its own user."""
    binary = mosquitto_path()
    assert binary is not None
    folder = Path(tempfile.mkdtemp(prefix="luciole-acl-"))
    try:
        tls = shutil.which("openssl") is not None
        if tls:
            _certificates(folder)
        ports = {PLAIN_PORT: free_port(), TLS_PORT: free_port()}
        shipped_conf = (SHIPPED / "luciole.conf").read_text()
        conf = localized(shipped_conf, folder, ports, tls)
        assert unexpected_changes(shipped_conf, conf, folder, tls) == []
        (folder / "luciole.conf").write_text(conf)
        shutil.copyfile(SHIPPED / "acl", folder / "luciole.acl")
        (folder / "mosquitto").mkdir()
        passwords = _passwords(binary, folder / "luciole.passwd")
        _hand_over(folder)
        process = _start(binary, folder / "luciole.conf")
        try:
            yield ShippedBroker(
                ports[PLAIN_PORT],
                ports[TLS_PORT] if tls else None,
                folder / "ca.crt",
                passwords,
                shipped_conf,
                conf,
                folder,
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_site() -> str:
    return f"acl-{uuid.uuid4().hex[:8]}"


async def topics_until(client: aiomqtt.Client, marker: str) -> list[str]:
    """The topics `client` receives, in order, up to the marker's (included)."""
    seen: list[str] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for message in client.messages:
            seen.append(message.topic.value)
            if message.topic.value == marker:
                return seen
    raise AssertionError(f"the connection ended before {marker} came; got {seen}")


async def published(client: aiomqtt.Client, topics: list[str], payload: bytes = b"{}") -> None:
    """Publish on each topic at QoS 1, each acknowledged by the broker (refused or not)."""
    for topic in topics:
        await client.publish(topic, payload, qos=1)


def test_the_broker_runs_the_shipped_files_changed_only_in_ports_and_folders(
    shipped: ShippedBroker,
) -> None:
    """What runs is what ships: same ACL bytes, same settings but listeners' ports and files'
    folders, and no file left at a system path."""
    tls = shipped.tls_port is not None
    assert unexpected_changes(shipped.shipped_conf, shipped.running_conf, shipped.folder, tls) == []
    assert (shipped.folder / "luciole.acl").read_bytes() == (SHIPPED / "acl").read_bytes()
    running = settings(shipped.running_conf)
    listeners = [line for line in running if line.startswith("listener ")]
    tls_listener = [f"listener {shipped.tls_port}"] if tls else []
    assert listeners == [f"listener {shipped.plain_port} 127.0.0.1", *tls_listener]
    assert [line for line in running if " /etc/" in line or " /var/" in line] == []


def test_max_packet_size_is_the_daemons_payload_limit_plus_room_for_headers(
    shipped: ShippedBroker,
) -> None:
    """luciole.conf's max_packet_size is MAX_PAYLOAD_BYTES plus 4 KiB, and says so."""
    assert f"max_packet_size {MAX_PAYLOAD_BYTES + HEADERS_BYTES}" in settings(shipped.shipped_conf)
    assert "MAX_PAYLOAD_BYTES in gateway/formats/common.py" in shipped.shipped_conf


def test_the_example_sites_device_and_segment_ids_can_be_logins() -> None:
    """In config/site.yaml no device id is a segment id and none is a service login, as the
    ACL's patterns need; the devices and the lamp logged in here are the site's."""
    site = yaml.safe_load((SHIPPED.parent / "site.yaml").read_text())
    devices = set(site["devices"])
    segments = {segment["id"] for segment in site["segments"]}
    assert devices.isdisjoint(segments)
    assert (devices | segments).isdisjoint(SERVICE_LOGINS)
    assert {"ped-port-07", "ped-port-10"} <= devices
    assert {"quai-du-port-07", "quai-du-port-08"} <= segments


async def test_a_client_without_a_valid_login_is_refused(shipped: ShippedBroker) -> None:
    """No anonymous client and no wrong password, on loopback as on the street."""
    ports = [shipped.plain_port, *([shipped.tls_port] if shipped.tls_port else [])]
    for port in ports:
        context = (
            None
            if port == shipped.plain_port
            else ssl.create_default_context(cafile=shipped.ca_file)
        )
        for username, password in [(None, None), ("luciole", "not-the-password")]:
            client = aiomqtt.Client(
                "127.0.0.1", port, username=username, password=password, tls_context=context
            )
            with pytest.raises(aiomqtt.MqttError):
                async with client:
                    pass


async def test_a_device_writes_its_own_topic_and_the_daemon_receives_it(
    shipped: ShippedBroker,
) -> None:
    """ped-port-07, logged in from the street, publishes its reading; the daemon's login gets it."""
    root = f"luciole/{new_site()}"
    own = f"{root}/sensor/pedestrian/ped-port-07"
    async with shipped.client("luciole") as daemon, shipped.client("ped-port-07", street=True) as d:
        await daemon.subscribe(f"{root}/sensor/#", qos=1)
        await d.publish(own, json.dumps({"count": 1, "seq": 1}), qos=1)
        async with asyncio.timeout(TIMEOUT_S):
            message = await anext(daemon.messages)
        assert (message.topic.value, json.loads(bytes(message.payload))) == (
            own,
            {"count": 1, "seq": 1},
        )


async def test_a_device_cannot_write_another_devices_topic_an_override_or_a_lamp(
    shipped: ShippedBroker,
) -> None:
    """Of ped-port-07's publishes only its own reading arrives: not ped-port-10's topic, an
    override, a lamp's command or state, an alert or a dead letter."""
    root = f"luciole/{new_site()}"
    forbidden = [
        f"{root}/sensor/pedestrian/ped-port-10",
        f"{root}/override/all",
        f"{root}/lamp/quai-du-port-07/set",
        f"{root}/lamp/quai-du-port-07/state",
        f"{root}/alert/lamp_failure/quai-du-port-07",
        f"{root}/deadletter",
    ]
    marker = f"{root}/sensor/pedestrian/ped-port-07"
    async with shipped.client("operator") as watcher:
        await watcher.subscribe(f"{root}/#", qos=1)
        async with shipped.client("ped-port-07", street=True) as device:
            await published(device, [*forbidden, marker])
        assert await topics_until(watcher, marker) == [marker]


async def test_an_operator_overrides_and_the_daemon_receives_it(shipped: ShippedBroker) -> None:
    """An operator's override reaches the daemon; the operator's forged command and reading do
    not."""
    root = f"luciole/{new_site()}"
    marker = f"{root}/override/quai-du-port"
    forged = [f"{root}/lamp/quai-du-port-07/set", f"{root}/sensor/pedestrian/ped-port-07"]
    async with shipped.client("luciole") as daemon, shipped.client("operator") as operator:
        await daemon.subscribe(f"{root}/#", qos=1)
        await published(operator, forged)
        await operator.publish(marker, json.dumps({"level": 0.8, "duration_s": 1800}), qos=1)
        assert await topics_until(daemon, marker) == [marker]


async def test_a_lamp_receives_its_commands_from_the_daemon_alone(shipped: ShippedBroker) -> None:
    """The lamp quai-du-port-07 reads the daemon's command for its segment, not another
    segment's, and no command forged by a device, an operator or the network server."""
    root = f"luciole/{new_site()}"
    own = f"{root}/lamp/quai-du-port-07/set"
    async with shipped.client("quai-du-port-07", street=True) as lamp:
        await lamp.subscribe(f"{root}/lamp/+/set", qos=1)
        for forger, street in [("ped-port-07", True), ("operator", False), ("chirpstack", False)]:
            async with shipped.client(forger, street=street) as client:
                await published(client, [own], b'{"level": 0.0}')
        async with shipped.client("luciole") as daemon:
            await published(daemon, [f"{root}/lamp/quai-du-port-08/set"], b'{"level": 0.3}')
            await daemon.publish(own, b'{"level": 1.0}', qos=1, retain=True)
        async with asyncio.timeout(TIMEOUT_S):
            message = await anext(lamp.messages)
        assert (message.topic.value, bytes(message.payload)) == (own, b'{"level": 1.0}')


async def test_a_lamp_reports_its_own_state_only(shipped: ShippedBroker) -> None:
    """The daemon receives quai-du-port-07's state, not the state it claims for another
    segment, nor a command it tries to give itself."""
    root = f"luciole/{new_site()}"
    marker = f"{root}/lamp/quai-du-port-07/state"
    forged = [f"{root}/lamp/quai-du-port-08/state", f"{root}/lamp/quai-du-port-07/set"]
    async with shipped.client("luciole") as daemon:
        await daemon.subscribe(f"{root}/lamp/#", qos=1)
        async with shipped.client("quai-du-port-07", street=True) as lamp:
            await published(lamp, [*forged, marker], b'{"level": 0.3, "status": "ok"}')
        assert await topics_until(daemon, marker) == [marker]


async def test_the_network_servers_uplinks_reach_the_daemon_and_nothing_else_of_it(
    shipped: ShippedBroker,
) -> None:
    """ChirpStack's uplink reaches the daemon; its writes under luciole/ (even on the topics
    the device and lamp patterns would give a login named chirpstack) do not."""
    root = f"luciole/{new_site()}"
    forged = [
        f"{root}/sensor/pedestrian/chirpstack",
        f"{root}/lamp/chirpstack/state",
        f"{root}/override/all",
    ]
    async with shipped.client("luciole") as daemon:
        await daemon.subscribe([(f"{root}/#", 1), (UPLINK, 1)])
        async with shipped.client("chirpstack") as chirpstack:
            await published(chirpstack, [*forged, UPLINK])
        assert await topics_until(daemon, UPLINK) == [UPLINK]


async def test_on_the_tls_listener_a_device_cannot_take_the_daemons_session(
    shipped: ShippedBroker,
) -> None:
    """A device connecting with the daemon's client id neither disconnects the daemon nor
    takes the readings its persistent session holds while it is away."""
    shipped.require_tls()
    root = f"luciole/{new_site()}"
    reading = f"{root}/sensor/pedestrian/ped-port-07"
    session = f"gw-{uuid.uuid4().hex[:8]}"

    def daemon() -> aiomqtt.Client:
        return shipped.client("luciole", identifier=session, clean_session=False)

    async with daemon() as gateway:
        await gateway.subscribe(f"{root}/sensor/#", qos=1)
        async with shipped.client("ped-port-10", street=True, identifier=session):
            async with shipped.client("ped-port-07", street=True) as device:
                await published(device, [reading])
            assert await topics_until(gateway, reading) == [reading]
    async with shipped.client("ped-port-07", street=True) as device:
        await published(device, [reading], b'{"count": 2}')
    async with shipped.client("ped-port-10", street=True, identifier=session, clean_session=False):
        pass
    async with daemon() as gateway:
        async with asyncio.timeout(TIMEOUT_S):
            message = await anext(gateway.messages)
        assert (message.topic.value, bytes(message.payload)) == (reading, b'{"count": 2}')


async def test_a_payload_at_the_daemons_limit_gets_through_and_a_larger_packet_does_not(
    shipped: ShippedBroker,
) -> None:
    """A MAX_PAYLOAD_BYTES uplink reaches the daemon; a packet over max_packet_size costs its
    sender the connection and reaches nobody."""
    async with shipped.client("luciole") as daemon:
        await daemon.subscribe(UPLINK, qos=1)
        async with shipped.client("chirpstack") as chirpstack:
            await chirpstack.publish(UPLINK, b"a" * MAX_PAYLOAD_BYTES, qos=1)
            await chirpstack.publish(UPLINK, b"b" * (MAX_PAYLOAD_BYTES + HEADERS_BYTES), qos=0)
            with pytest.raises(aiomqtt.MqttError):
                async with asyncio.timeout(TIMEOUT_S):
                    await anext(chirpstack.messages)  # ends when the broker hangs up
        async with shipped.client("chirpstack") as chirpstack:
            await chirpstack.publish(UPLINK, b"marker", qos=1)
        async with asyncio.timeout(TIMEOUT_S):
            payloads = [bytes((await anext(daemon.messages)).payload) for _ in range(2)]
        assert payloads == [b"a" * MAX_PAYLOAD_BYTES, b"marker"]


def _daemon_site(folder: Path, shipped: ShippedBroker, site_id: str) -> Path:
    """The e2e site (devices counter-2 and meter-1, segments s1..s5) with the daemon's login."""
    site = write_site(
        folder, BrokerInfo("127.0.0.1", shipped.plain_port, "mosquitto"), site_id, "30%"
    )
    (folder / "mqtt-password").write_text(shipped.passwords["luciole"])
    (folder / "mqtt-password").chmod(0o600)  # `luciole run` refuses a password others can read
    login = "username: luciole, password_file: mqtt-password, client_id: gw-"
    site.write_text(site.read_text().replace("client_id: gw-", login))
    return site


async def test_luciole_run_serves_presence_under_the_shipped_acl(
    tmp_path: Path, shipped: ShippedBroker
) -> None:
    """`luciole run` with its own login lights s2 when counter-2 sees someone: every topic it
    needs is granted, and the lamp s2 gets its command."""
    site_id = new_site()
    command = f"luciole/{site_id}/lamp/s2/set"
    async with shipped.client("s2", street=True) as lamp:
        await lamp.subscribe(command, qos=1)
        async with running_daemon(_daemon_site(tmp_path, shipped, site_id)):
            async with asyncio.timeout(TIMEOUT_S):
                first = json.loads(bytes((await anext(lamp.messages)).payload))
            assert first["level"] == 0.3
            async with shipped.client("counter-2", street=True) as counter:
                topic = f"luciole/{site_id}/sensor/pedestrian/counter-2"
                await counter.publish(topic, json.dumps({"count": 1}), qos=1)
            async with asyncio.timeout(TIMEOUT_S):
                while json.loads(bytes((await anext(lamp.messages)).payload))["level"] != 1.0:
                    pass


async def test_a_refused_payload_as_large_as_the_broker_admits_reaches_the_dead_letter_topic(
    tmp_path: Path, shipped: ShippedBroker
) -> None:
    """A device's largest refused payload reaches the dead-letter topic: the daemon's letter
    (an excerpt) fits in max_packet_size, so the broker does not hang up on the daemon."""
    site_id = new_site()
    letters = f"luciole/{site_id}/deadletter"
    async with shipped.client("operator") as operator:
        await operator.subscribe(letters, qos=1)
        async with running_daemon(_daemon_site(tmp_path, shipped, site_id)) as daemon:
            await stderr_until(daemon, "connected, listening")  # subscribed: nothing is lost
            async with shipped.client("counter-2", street=True) as counter:
                topic = f"luciole/{site_id}/sensor/pedestrian/counter-2"
                await counter.publish(topic, b"\xff" * MAX_PAYLOAD_BYTES, qos=1)
            async with asyncio.timeout(TIMEOUT_S):
                letter = json.loads(bytes((await anext(operator.messages)).payload))
            assert (letter["topic"], letter["reason"]) == (topic, "not_utf8")
