"""The embedded broker (amqtt) for the demo and for machines without mosquitto.

It runs in a process of its own, as mosquitto would: the broker's work does not queue behind
the caller's event loop, and a second core can carry it. amqtt comes with the `sim` extra
(`luciole run` never needs it): without it, `start()` says which extra to install.
"""

import asyncio
import logging
import multiprocessing
import signal
import socket
from importlib.util import find_spec
from multiprocessing.synchronize import Event
from types import TracebackType

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
EXTRA = "sim"


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedBroker:
    """`with EmbeddedBroker() as url:` (or `async with`) runs a loopback MQTT broker."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        context = multiprocessing.get_context("spawn")  # a clean interpreter, no inherited loop
        self._ready = context.Event()
        self._process = context.Process(
            target=_serve, args=(host, self.port, self._ready), name="luciole-broker", daemon=True
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> str:
        if find_spec("amqtt") is None:  # before a process is spawned to fail on it
            raise MissingExtraError(
                f"the embedded MQTT broker needs amqtt, from the {EXTRA} extra: "
                f"pip install 'luciole[{EXTRA}]' (or use a broker of your own)"
            )
        self._process.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"the embedded broker did not start on {self.host}:{self.port}")
        return self.url

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(STOP_TIMEOUT_S)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> str:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _serve(host: str, port: int, ready: Event) -> None:
    """The broker process: serve until terminated."""
    # Ctrl-C reaches the whole process group; the parent decides when the broker stops, so
    # that its clients can disconnect cleanly first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # amqtt warns about undelivered messages at every shutdown: noise to an operator.
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_broker(host, port, ready))


async def _broker(host: str, port: int, ready: Event) -> None:
    from amqtt.broker import Broker  # noqa: PLC0415  (only the broker process needs it)

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    ready.set()
    await asyncio.Event().wait()  # until the parent terminates this process
