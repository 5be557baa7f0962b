"""The private parts of aiomqtt and paho the inbox relies on, in one place, and their check.

aiomqtt offers no public access to its paho client, its disconnection future or its socket
options, and paho none to its socket or its outgoing queue. The inbox's fast path (a
`gateway.mqtt.framing.ReadBuffer` between paho and the socket, acknowledgements written
together) needs all of them; its public path needs only the paho client. Each access below is
marked `# noqa: SLF001` with why and what it relies on. They were read from the versions in
`TESTED`, which pyproject.toml and constraints.txt pin.

`why_not_fast` checks, before the client connects, that every hook is there with the expected
type and that the installed versions were tested; when not, it says why and the inbox takes
the public path (paho's `on_message` and `ack()`).
"""

import asyncio
import inspect
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

# Distribution name -> [lowest, first untested) minor versions; pyproject.toml says the same.
TESTED: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "aiomqtt": ((2, 5), (2, 6)),
    "paho-mqtt": ((2, 1), (2, 3)),
}
# paho's signature for queueing an outgoing packet, as the fast path calls it.
_QUEUE_PARAMETERS = ["command", "packet", "mid", "qos", "info"]


class IncompatibleClientError(Exception):
    """aiomqtt has no paho client: no path can acknowledge a message after it is stored."""


def paho_of(client: aiomqtt.Client) -> mqtt.Client:
    """The paho client under `client` (both paths: aiomqtt has no switch for manual acks)."""
    try:
        paho: object = _paho(client)
    except AttributeError:  # aiomqtt 3 has no paho at all
        paho = None
    if not isinstance(paho, mqtt.Client):
        raise IncompatibleClientError(
            f"aiomqtt {_installed('aiomqtt')} runs no paho client; Luciole acknowledges "
            f"messages after storing them through paho: install the tested versions "
            f"({tested_range()}), e.g. `pip install -c constraints.txt .`"
        )
    return paho


def _paho(client: aiomqtt.Client) -> mqtt.Client:
    # Why: aiomqtt has no switch for manual acks and no public way to its paho client.
    # Relies on: aiomqtt 2.x making it in __init__ as `_client` and keeping it for good.
    return client._client  # noqa: SLF001  (manual acks; aiomqtt 2.x keeps it from __init__)


def disconnect_future(client: aiomqtt.Client) -> "asyncio.Future[None] | None":
    """aiomqtt's future for the current connection, done when it is lost or closed (None if
    aiomqtt has none: the public path then learns of it from paho alone)."""
    # Why: the inbox bypasses aiomqtt's message iterator, the public reader of this future.
    # Relies on: aiomqtt 2.x making a new one per connection and setting its exception on an
    # unexpected disconnection (its reader's errors included, which paho never reports).
    try:
        future = client._disconnected  # noqa: SLF001  (no public end signal; one per connect)
    except AttributeError:
        return None
    return future if isinstance(future, asyncio.Future) else None


def socket_options(client: aiomqtt.Client) -> tuple[Any, ...]:
    """The `setsockopt` arguments aiomqtt was given (it applies them to plain sockets only)."""
    # Why: the read buffer is no socket.socket, so aiomqtt skips it; the inbox applies them.
    # Relies on: aiomqtt 2.x storing its `socket_options` argument as a tuple of tuples.
    return client._socket_options  # noqa: SLF001  (not public; aiomqtt 2.x: a tuple of tuples)


def replace_socket(paho: mqtt.Client, sock: Any) -> None:
    """Make paho read and write through `sock` (called from paho's `on_socket_open`)."""
    # Why: paho takes no socket wrapper; this is how the read buffer gets between them.
    # Relies on: paho 2.x reading `_sock` at every call after `on_socket_open`, using only
    # recv, send, close, fileno, setblocking on it (and aiomqtt's reader, pending).
    paho._sock = sock  # noqa: SLF001  (the only way in; paho 2.x reads it at every call)


def queue_packets(paho: mqtt.Client, command: int, data: bytes) -> None:
    """Queue ready-made packets behind what paho is writing, as one write."""
    # Why: `ack()` queues, logs and writes one packet per message (a TCP segment each).
    # Relies on: paho 2.x writing queued bytes whole and in order, doing nothing else with a
    # packet that is not a PUBLISH or DISCONNECT (mid 0, qos 1: no on_publish call).
    paho._packet_queue(command, data, 0, 1)  # noqa: SLF001  (one write, in order; paho 2.x)


def why_not_fast(client: aiomqtt.Client, versions: Mapping[str, str] | None = None) -> str | None:
    """Why the fast path cannot run on `client` (None when it can). `versions`: the installed
    versions by distribution name (read from the environment when not given)."""
    found = versions if versions is not None else {name: _installed(name) for name in TESTED}
    for name, version in found.items():
        if not _in_range(name, version):
            return f"{name} {version} is not a tested version ({tested_range()})"
    return _missing_hook(client)


def tested_range() -> str:
    """The tested versions as pip writes them: `aiomqtt>=2.5,<2.6, paho-mqtt>=2.1,<2.3`."""
    return ", ".join(
        f"{name}>={low[0]}.{low[1]},<{high[0]}.{high[1]}" for name, (low, high) in TESTED.items()
    )


def _missing_hook(client: aiomqtt.Client) -> str | None:
    """Which private attribute the fast path needs is missing or of another type."""
    # Looked up by name, not used: the attributes the functions above rely on.
    paho = getattr(client, "_client", None)
    if not isinstance(paho, mqtt.Client):
        return "aiomqtt has no paho client (_client)"  # paho_of stops the daemon before this
    if not isinstance(getattr(client, "_disconnected", None), asyncio.Future):
        return "aiomqtt's disconnection future (_disconnected) is missing or changed"
    options = getattr(client, "_socket_options", None)
    if not isinstance(options, tuple) or not all(isinstance(o, tuple) for o in options):
        return "aiomqtt's socket options (_socket_options) are missing or changed"
    if not hasattr(paho, "_sock"):
        return "paho's socket (_sock) is missing"
    queue = getattr(paho, "_packet_queue", None)
    if not callable(queue) or list(inspect.signature(queue).parameters) != _QUEUE_PARAMETERS:
        return "paho's outgoing queue (_packet_queue) is missing or changed"
    return None


def _in_range(name: str, version: str) -> bool:
    low, high = TESTED[name]
    found = re.match(r"(\d+)\.(\d+)", version)
    return found is not None and low <= (int(found[1]), int(found[2])) < high


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # run from a source tree without metadata
        return "(unknown version)"
