"""Secrets a site names: refused when others may read them, reported by check-config when
missing; plaintext MQTT beyond loopback is said at start."""

import logging
from pathlib import Path

import pytest

from controllers.settings.site import BrokerSettings
from gateway.mqtt.client import check_credentials, warn_if_plaintext
from luciole.main import main

SITE = """\
site: {{id: vault, latitude: 45.0, longitude: 4.0}}
broker: {{url: 'mqtts://broker.example:8883', username: luciole, {broker}}}
segments: [{{id: s1, street: main, order: 0, length_m: 30, rated_power_w: 40}}]
"""


def _site(folder: Path, broker: str) -> Path:
    (folder / "policy.yaml").write_text("limits: {floor: P6}\n")
    site = folder / "site.yaml"
    site.write_text(SITE.format(broker=broker))
    return site


def _secret(folder: Path, name: str, mode: int) -> Path:
    path = folder / name
    path.write_text("not-a-real-secret\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_password_file_others_may_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    """As OpenSSH does with keys: a password file open to group or others stops the start,
    and the message says what to run."""
    path = _secret(tmp_path, "mqtt-password", mode)
    broker = BrokerSettings(username="luciole", password_file="mqtt-password")
    problem = check_credentials(broker, tmp_path)
    assert problem is not None
    assert f"mode {mode:04o}" in problem and f"chmod 600 {path}" in problem


def test_a_private_password_file_is_accepted(tmp_path: Path) -> None:
    """0600 (or stricter) is what the daemon's user alone can read: no problem."""
    _secret(tmp_path, "mqtt-password", 0o600)
    broker = BrokerSettings(username="luciole", password_file="mqtt-password")
    assert check_credentials(broker, tmp_path) is None


@pytest.mark.parametrize(
    ("tls", "secret"),
    [
        ({"cert_file": "client.crt", "key_file": "client.key"}, "client.key"),
        ({"cert_file": "client.pem"}, "client.pem"),
    ],
    ids=["key-file", "key-inside-the-certificate"],
)
def test_a_tls_key_others_may_read_is_refused_with_the_fix(
    tmp_path: Path, tls: dict[str, str], secret: str
) -> None:
    """The client key, or the certificate file that carries it, must be private too."""
    for name in tls.values():
        _secret(tmp_path, name, 0o644)
    broker = BrokerSettings.model_validate({"url": "mqtts://broker.example", "tls": tls})
    problem = check_credentials(broker, tmp_path)
    assert problem is not None and f"chmod 600 {tmp_path / secret}" in problem


def test_check_config_reports_a_missing_ca_file_and_an_unset_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site whose CA file is not there is invalid (exit 2, at its key and line); an unset
    password variable is a warning (check-config may run outside the service's environment)."""
    monkeypatch.delenv("LUCIOLE_TEST_UNSET_PASSWORD", raising=False)
    site = _site(tmp_path, "password_env: LUCIOLE_TEST_UNSET_PASSWORD, tls: {ca_file: ca.crt}")
    assert main(["check-config", str(site)]) == 2
    err = capsys.readouterr().err
    assert f"{site}:2: broker.tls.ca_file: file {tmp_path / 'ca.crt'} not found" in err
    assert (
        f"{site}:2: broker.password_env: warning: environment variable "
        "LUCIOLE_TEST_UNSET_PASSWORD is not set here" in err
    )


def test_check_config_reports_an_open_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `luciole run` would refuse, check-config reports first."""
    _secret(tmp_path, "mqtt-password", 0o644)
    site = _site(tmp_path, "password_file: mqtt-password")
    assert main(["check-config", str(site)]) == 2
    assert f"chmod 600 {tmp_path / 'mqtt-password'}" in capsys.readouterr().err


def test_a_site_whose_secrets_are_in_place_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CA present, key private, variable set: nothing to say."""
    monkeypatch.setenv("LUCIOLE_TEST_PASSWORD", "x")
    _secret(tmp_path, "ca.crt", 0o644)
    _secret(tmp_path, "client.crt", 0o644)
    _secret(tmp_path, "client.key", 0o600)
    tls = "tls: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key}"
    site = _site(tmp_path, f"password_env: LUCIOLE_TEST_PASSWORD, {tls}")
    assert main(["check-config", str(site)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("mqtt://10.0.0.5:1883", True),
        ("mqtt://broker.example", True),
        ("mqtt://127.0.0.1:1883", False),
        ("mqtt://localhost", False),
        ("mqtts://broker.example", False),
    ],
)
def test_plaintext_mqtt_beyond_loopback_is_a_warning(
    url: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Readings and login in clear over a network are said at start; loopback and TLS are not."""
    with caplog.at_level(logging.WARNING):
        warn_if_plaintext(BrokerSettings(url=url))
    assert any("plaintext MQTT" in r.getMessage() for r in caplog.records) == warned
