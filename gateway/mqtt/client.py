"""The daemon's MQTT client, built from the broker settings: protocol, persistent session,
credentials, TLS, and the socket and acknowledgement options the delivery guarantees need."""

import ipaddress
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controllers.settings.site import BrokerSettings
from gateway.logs import event
from gateway.mqtt.hooks import paho_of
from gateway.secrets import private_problem
from gateway.wire.payloads import LOW_LATENCY_SOCKET_OPTIONS

log = logging.getLogger("luciole.gateway")

# The library's client and its error, named here so that no other room imports aiomqtt.
Client = aiomqtt.Client
MqttError = aiomqtt.MqttError

# Commands are published together; many pending publishes are normal, not worth a warning.
PENDING_CALLS_WARNING = 10_000


class CredentialsError(Exception):
    """The password could not be read; says where it was looked for, never what it is."""


def client_for(broker: BrokerSettings, base: Path) -> aiomqtt.Client:
    """A client that acks messages only when told to (after the spool commit)."""
    v5 = broker.protocol == "5"
    client = aiomqtt.Client(
        identifier=broker.client_id,
        # Persistent session: QoS 1 messages wait for us while we are away.
        clean_session=None if v5 else False,
        clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,  # paho's v3 default
        properties=_session_expiry(broker) if v5 else None,
        **_connection(broker, base),
    )
    client.pending_calls_threshold = PENDING_CALLS_WARNING
    # aiomqtt has no switch for manual acks yet; paho's is set before connecting.
    paho_of(client).manual_ack_set(True)
    return client


def tool_client(broker: BrokerSettings, base: Path, name: str) -> aiomqtt.Client:
    """A short-lived client for a command-line tool: its own id (never the daemon's, which the
    broker would disconnect), a clean session, the site's credentials and TLS."""
    return aiomqtt.Client(
        identifier=f"{broker.client_id}-{name}-{os.getpid()}", **_connection(broker, base)
    )


def _connection(broker: BrokerSettings, base: Path) -> dict[str, Any]:
    """What every client of a site shares: where, which protocol, credentials, TLS, socket."""
    return {
        "hostname": broker.host,
        "port": broker.port,
        "protocol": aiomqtt.ProtocolVersion.V5
        if broker.protocol == "5"
        else aiomqtt.ProtocolVersion.V311,
        "keepalive": int(broker.keepalive_s),
        "username": broker.username,
        "password": _password(broker, base),
        "tls_context": _tls(broker, base),
        "socket_options": LOW_LATENCY_SOCKET_OPTIONS,
    }


def check_credentials(broker: BrokerSettings, base: Path) -> str | None:
    """Why the password or TLS files cannot be used, or None: checked before connecting."""
    try:
        _password(broker, base)
        _tls(broker, base)
    except CredentialsError as error:
        return str(error)
    except (OSError, ssl.SSLError) as error:
        return f"broker TLS files: {error}"
    return None


def _session_expiry(broker: BrokerSettings) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = int(broker.session_expiry_s)
    return properties


def _password(broker: BrokerSettings, base: Path) -> str | None:
    if broker.password_env:
        value = os.environ.get(broker.password_env)
        if value is None:
            raise CredentialsError(
                f"broker password: environment variable {broker.password_env} is not set"
            )
        return value
    if broker.password_file:
        path = base / broker.password_file
        problem = private_problem(path, "broker password file")
        if problem is not None:
            raise CredentialsError(problem)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise CredentialsError(
                f"broker password: cannot read {path}: {error.strerror}"
            ) from None
    return None


def _tls(broker: BrokerSettings, base: Path) -> ssl.SSLContext | None:
    if broker.tls is None and not broker.url.startswith("mqtts"):
        return None
    tls = broker.tls
    ca = str(base / tls.ca_file) if tls and tls.ca_file else None
    context = ssl.create_default_context(cafile=ca)
    if tls and tls.cert_file:
        key = base / (tls.key_file or tls.cert_file)  # without key_file, the cert holds it
        problem = private_problem(key, "broker TLS private key")
        if problem is not None:
            raise CredentialsError(problem)
        context.load_cert_chain(str(base / tls.cert_file), str(key) if tls.key_file else None)
    return context


def warn_if_plaintext(broker: BrokerSettings) -> None:
    """Say so when passwords and readings would cross a network in clear: plaintext MQTT
    (no TLS) to a broker that is not on this machine's loopback."""
    if broker.tls is not None or broker.url.startswith("mqtts") or _loopback(broker.host):
        return
    event(
        log,
        logging.WARNING,
        "plaintext MQTT to a broker beyond this machine: readings, commands and the login "
        "cross the network unencrypted; use mqtts:// with tls: {ca_file: ...}",
        broker=broker.url,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False
