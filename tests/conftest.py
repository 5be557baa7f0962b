"""Shared fixtures: a real MQTT broker for the session (mosquitto when installed)."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from gateway.mqtt.broker import EmbeddedBroker, free_port

BROKER_START_TIMEOUT_S = 10.0

# Property tests of decoders: thousands of examples in CI, fewer on a developer's machine
# (LUCIOLE_EXAMPLES overrides both).
DECODER_EXAMPLES = int(
    os.environ.get("LUCIOLE_EXAMPLES", "2000" if os.environ.get("CI") else "300")
)


def mosquitto_path() -> str | None:
    """mosquitto on PATH, or where Debian installs it (/usr/sbin is not always on PATH).

    LUCIOLE_TEST_BROKER=embedded forces the embedded broker, to test what a machine
    without mosquitto sees.
    """
    if os.environ.get("LUCIOLE_TEST_BROKER") == "embedded":
        return None
    found = shutil.which("mosquitto")
    if found:
        return found
    debian = Path("/usr/sbin/mosquitto")
    return str(debian) if debian.exists() else None


def pytest_report_header() -> str:
    path = mosquitto_path()
    if path:
        return f"broker: mosquitto ({path}) on a free loopback port"
    return "broker: embedded amqtt (mosquitto not found; install it for the real thing)"


@dataclass(frozen=True)
class BrokerInfo:
    host: str
    port: int
    kind: str

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class Mosquitto:
    """A mosquitto process on a fixed loopback port that can be stopped and started again."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        port: int | None = None,
        settings: tuple[str, ...] = ("allow_anonymous true",),
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._drain: threading.Thread | None = None

    @property
    def info(self) -> BrokerInfo:
        return BrokerInfo("127.0.0.1", self.port, "mosquitto")

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        # set_tcp_nodelay: without it mosquitto holds small packets up to ~40 ms (Nagle).
        # A test's own settings come last: mosquitto takes the last value of an option.
        settings = ["persistence false", "set_tcp_nodelay true", *self.settings]
        conf.write_text("\n".join([f"listener {self.port} 127.0.0.1", *settings, ""]))
        log = self.workdir / "mosquitto.log"
        self._process = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        running = threading.Event()
        self._drain = threading.Thread(
            target=_copy_log, args=(self._process, log, running), daemon=True
        )
        self._drain.start()
        if not running.wait(BROKER_START_TIMEOUT_S) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError(f"mosquitto did not start:\n{log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        if self._drain is not None:
            self._drain.join(timeout=10)
            self._drain = None


def _start_mosquitto(binary: str, workdir: Path) -> Iterator[BrokerInfo]:
    broker = Mosquitto(binary, workdir)
    broker.start()
    try:
        yield broker.info
    finally:
        broker.stop()


def _copy_log(process: subprocess.Popen[bytes], path: Path, running: threading.Event) -> None:
    """Keep mosquitto's output in a file; signal when it says it is running. The pipe is
    closed here, at its end, by its only reader."""
    assert process.stdout is not None
    with path.open("ab") as log, process.stdout:
        for line in process.stdout:
            log.write(line)
            log.flush()
            if b" running" in line:
                running.set()
    running.set()  # exited: let the waiter look at the process


def _read_to_end(pipe: IO[bytes]) -> None:
    """Drain a child's pipe so that it never blocks on a full one; close it at its end."""
    with pipe:
        pipe.read()


class Embedded:
    """The embedded broker on a fixed port, restartable like `Mosquitto` (a new process each
    start, since a process runs once)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._broker: EmbeddedBroker | None = None

    @property
    def info(self) -> BrokerInfo:
        return BrokerInfo("127.0.0.1", self.port, "amqtt")

    def start(self) -> None:
        self._broker = EmbeddedBroker(port=self.port)
        self._broker.start()

    def stop(self) -> None:
        if self._broker is not None:
            self._broker.stop()
            self._broker = None


def new_broker(workdir: Path) -> "Mosquitto | Embedded":
    """A stopped broker of the kind this session uses (mosquitto when installed)."""
    binary = mosquitto_path()
    return Mosquitto(binary, workdir) if binary else Embedded()


def _start_embedded() -> Iterator[BrokerInfo]:
    """amqtt in a process of its own, as the demo runs it."""
    broker = Embedded()
    broker.start()
    try:
        yield broker.info
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """A real broker on a free loopback port for the whole session."""
    binary = mosquitto_path()
    if binary:
        yield from _start_mosquitto(binary, tmp_path_factory.mktemp("mosquitto"))
    else:
        yield from _start_embedded()


def victoria_path() -> str | None:
    """victoria-metrics as Debian installs it (on PATH), or None."""
    return shutil.which("victoria-metrics")


class Victoria:
    """victoria-metrics on a free port with its own data folder; restartable. `flags` are
    more command-line options (say, `-dedup.minScrapeInterval=1ms`)."""

    def __init__(self, binary: str, folder: Path, flags: tuple[str, ...] = ()) -> None:
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.flags = flags
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.folder}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                *self.flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        for output in self.process.stderr:  # until it says it starts serving (or exits)
            if b"starting http server at" in output:
                threading.Thread(
                    target=_read_to_end, args=(self.process.stderr,), daemon=True
                ).start()
                self._until_listening()
                return
        self.process.stderr.close()  # at its end: the process exited
        raise RuntimeError("victoria-metrics did not start")

    def _until_listening(self) -> None:
        """It logs that line just before it binds the port (a restarted one could be refused
        for a moment): connect until the port answers, as a client would."""
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                return
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise RuntimeError("victoria-metrics did not open its port") from None
                time.sleep(0.005)  # an external process's bind, which sends no event

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def count(self, metric: str) -> int:
        """Samples stored for `metric`, read back through the export API."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).close()
        query = f"{self.url}/api/v1/export?match[]={metric}"
        with urllib.request.urlopen(query, timeout=10) as answer:
            series = [json.loads(x) for x in answer.read().splitlines() if x.strip()]
        return sum(len(s["values"]) for s in series)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[Victoria]:
    """A VictoriaMetrics of the test's own (it accepts the InfluxDB v2 write API)."""
    binary = victoria_path()
    if binary is None:
        pytest.skip("victoria-metrics is not installed (apt-get install victoria-metrics)")
    server = Victoria(binary, tmp_path / "vm")
    server.start()
    yield server
    server.stop()
