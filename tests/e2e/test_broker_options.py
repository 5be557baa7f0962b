"""Broker options in production use: MQTT 5 sessions and username/password from the environment."""

import json
import os
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from tests.conftest import BrokerInfo, Mosquitto, mosquitto_path
from tests.e2e.support import Lamps, running_daemon, stderr_until, write_site

pytestmark = pytest.mark.skipif(
    mosquitto_path() is None, reason="MQTT 5 and password files need mosquitto"
)


@pytest.fixture
def locked_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto that refuses anonymous clients; user `gateway`, password `s3cret`."""
    binary = mosquitto_path()
    assert binary is not None
    workdir = tmp_path / "locked"
    workdir.mkdir()
    passwords = workdir / "passwords"
    tool = str(Path(binary).with_name("mosquitto_passwd"))
    tool = tool if Path(tool).exists() else "mosquitto_passwd"
    subprocess.run([tool, "-b", "-c", str(passwords), "gateway", "s3cret"], check=True)
    # Run as root, mosquitto would switch to its own user, who cannot read pytest's tmp dir.
    stay = ("user root",) if os.geteuid() == 0 else ()
    settings = ("allow_anonymous false", f"password_file {passwords}", *stay)
    broker = Mosquitto(binary, workdir, settings=settings)
    broker.start()
    yield broker
    broker.stop()


async def _presence_works(
    site: Path,
    info: BrokerInfo,
    site_id: str,
    username: str | None = None,
    password: str | None = None,
) -> None:
    identifier = f"t-{site_id}"
    async with aiomqtt.Client(
        info.host, info.port, identifier=identifier, username=username, password=password
    ) as c:
        lamps = Lamps(c, site_id)
        await c.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            await c.publish(f"{lamps.root}/sensor/pedestrian/counter-2", json.dumps({"count": 1}))
            await lamps.until(lambda: lamps.latest["s2"]["level"] == 1.0)


async def test_mqtt_5_session(tmp_path: Path, broker: BrokerInfo) -> None:
    """With `protocol: "5"` the daemon connects with a session expiry and serves presence."""
    site_id = f"v5-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, broker, site_id, "30%")
    text = site.read_text().replace("client_id: gw-", 'protocol: "5", client_id: gw-')
    site.write_text(text)
    await _presence_works(site, broker, site_id)


async def test_password_from_the_environment(
    tmp_path: Path, locked_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Username in the file, password from the environment: accepted by a locked broker."""
    site_id = f"login-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, locked_broker.info, site_id, "30%")
    login = "username: gateway, password_env: LUCIOLE_TEST_MQTT_PASSWORD, client_id: gw-"
    site.write_text(site.read_text().replace("client_id: gw-", login))
    monkeypatch.setenv("LUCIOLE_TEST_MQTT_PASSWORD", "s3cret")
    await _presence_works(site, locked_broker.info, site_id, username="gateway", password="s3cret")


async def test_wrong_password_is_retried_and_said(
    tmp_path: Path, locked_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused login is logged as such (never the password) and retried with backoff."""
    site_id = f"refused-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, locked_broker.info, site_id, "30%")
    login = "username: gateway, password_env: LUCIOLE_TEST_MQTT_PASSWORD, client_id: gw-"
    site.write_text(site.read_text().replace("client_id: gw-", login))
    monkeypatch.setenv("LUCIOLE_TEST_MQTT_PASSWORD", "wrong-guess")
    async with running_daemon(site) as daemon:
        line = await stderr_until(daemon, "broker unreachable")
        assert "wrong-guess" not in line
        assert "authoriz" in line.lower() or "password" in line.lower()


def test_missing_password_variable_stops_run_with_a_message(tmp_path: Path) -> None:
    """`luciole run` refuses to start when the password variable is not set, and says which."""
    from luciole.main import main

    site = write_site(tmp_path, BrokerInfo("127.0.0.1", 1, "none"), "nopass", "30%")
    login = "username: gateway, password_env: LUCIOLE_NOT_SET_ANYWHERE, client_id: gw-"
    site.write_text(site.read_text().replace("client_id: gw-", login))
    assert main(["run", "--config", str(site)]) == 2


def _certificates(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key")}
    csr = folder / "server.csr"
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    commands = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            files["ca-key"],
            "-out",
            files["ca"],
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            files["server-key"],
            "-out",
            csr,
        ],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            files["ca"],
            "-CAkey",
            files["ca-key"],
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            ext,
            "-out",
            files["server"],
        ],
    ]
    for command in commands:
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return files


async def test_tls_with_the_site_ca(tmp_path: Path) -> None:
    """`mqtts://` with `tls.ca_file`: the daemon verifies the broker and serves presence."""
    binary = mosquitto_path()
    if binary is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto and openssl")
    workdir = tmp_path / "tls"
    workdir.mkdir()
    files = _certificates(workdir)
    stay = ("user root",) if os.geteuid() == 0 else ()
    settings = (
        "allow_anonymous true",
        f"cafile {files['ca']}",
        f"certfile {files['server']}",
        f"keyfile {files['server-key']}",
        *stay,
    )
    broker = Mosquitto(binary, workdir, settings=settings)
    broker.start()
    try:
        site_id = f"tls-{uuid.uuid4().hex[:8]}"
        site = write_site(tmp_path, broker.info, site_id, "30%")
        tls = f"tls: {{ca_file: {files['ca']}}}, client_id: gw-"
        text = site.read_text().replace("mqtt://", "mqtts://").replace("client_id: gw-", tls)
        site.write_text(text)
        context = ssl.create_default_context(cafile=str(files["ca"]))
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier=f"t-{site_id}", tls_context=context
        ) as c:
            lamps = Lamps(c, site_id)
            await c.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
            async with running_daemon(site):
                await lamps.until(lambda: len(lamps.latest) == 5)
    finally:
        broker.stop()
