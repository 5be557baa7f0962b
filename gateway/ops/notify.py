"""Telling systemd how the daemon is doing (sd_notify(3)), with the standard library alone.

Under `Type=notify`, systemd waits for `READY=1` before it calls the service started, shows
`STATUS=` in `systemctl status`, and with `WatchdogSec=` restarts the service when the pings
(`WATCHDOG=1`) stop. The daemon pings from its tick task, after each completed control tick,
so a stalled control loop (not merely a live process) is what gets the service restarted.

A message is one datagram to the AF_UNIX socket named by `NOTIFY_SOCKET` (a leading `@` is
the Linux abstract namespace). Without that variable every call does nothing: a daemon run
from a terminal or a test behaves as before. Each message uses a socket of its own, as
libsystemd does: there is nothing to close, and a socket that systemd re-creates (after
`daemon-reexec`) is found again by its path. Sends never block and never raise into the
daemon: a failure is logged once, and the notifier then stays quiet.
"""

import logging
import os
import socket
import time
from collections.abc import Mapping

from gateway.logs import event

log = logging.getLogger("luciole.gateway")


class Notifier:
    """The daemon's side of the notify protocol; `from_environ` builds it."""

    def __init__(self, notify_socket: str = "", watchdog_interval_s: float | None = None) -> None:
        self._socket = notify_socket
        self._address = _address(notify_socket)
        self._interval_s = watchdog_interval_s if self._address is not None else None
        self._last_ping_s: float | None = None
        self._dropped = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> "Notifier":
        """What systemd passed us: the socket, and the watchdog if it is meant for our pid."""
        return cls(environ.get("NOTIFY_SOCKET", ""), _watchdog_s(environ))

    @property
    def enabled(self) -> bool:
        """Whether messages are sent at all (no socket, or the socket failed: not)."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """systemd's `WatchdogSec=`, or None when it watches no pings from us; `tick` pings
        at half of it, so one late tick does not get the service restarted."""
        return self._interval_s if self._address is not None else None

    def ready(self, status: str = "") -> None:
        """Start-up done: the daemon's tasks run. Not held until the broker answers: with the
        broker down, `TimeoutStartSec=` would fail the start instead of letting it retry."""
        self._send("READY=1", status)

    def reloading(self, status: str = "") -> None:
        """A reload starts; `ready_again` must follow, even when the reload is refused.

        systemd ≥ 253 matches the reload to the request by `MONOTONIC_USEC` (older ones
        ignore the field)."""
        now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send(f"RELOADING=1\nMONOTONIC_USEC={now_us}", status)

    def ready_again(self, status: str = "") -> None:
        """The reload is over (applied or refused): the service is running again."""
        self._send("READY=1", status)

    def stopping(self, status: str = "") -> None:
        """Shutdown starts: systemd now waits for the process to exit (`TimeoutStopSec=`)."""
        self._send("STOPPING=1", status)

    def status(self, text: str) -> None:
        """One line for `systemctl status`, e.g. what the daemon is waiting for."""
        self._send("", text)

    def watchdog(self) -> None:
        """Still alive: resets systemd's watchdog timer (`tick` paces these)."""
        self._send("WATCHDOG=1")

    def tick(self, now_monotonic_s: float) -> None:
        """After a completed control tick: ping if half the watchdog interval has passed.

        Nothing else pings (no timer, no thread), so a tick loop that stalls stops the pings
        and systemd restarts the service."""
        if self._interval_s is None:
            return
        last_s = self._last_ping_s
        if last_s is None or now_monotonic_s - last_s >= self._interval_s / 2:
            self._last_ping_s = now_monotonic_s
            self.watchdog()

    def _send(self, fields: str, status: str = "") -> None:
        if self._address is None:
            return
        message = "\n".join(f for f in (fields, _status_field(status)) if f)
        if not message:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(message.encode("utf-8"), self._address)
        except BlockingIOError:
            self._drop()
        except OSError as error:
            self._fail(str(error))

    def _drop(self) -> None:
        """systemd's queue is full: this message is lost, the next ones may pass. Going
        quiet here would stop the pings and have a healthy daemon restarted."""
        if not self._dropped:
            self._dropped = True
            event(log, logging.WARNING, "systemd notification dropped: its socket is full")

    def _fail(self, problem: str) -> None:
        event(
            log,
            logging.WARNING,
            "systemd notification failed; sending no more (a watchdog, if set, will restart "
            "the service)",
            socket=self._socket,
            problem=problem,
        )
        self._address = None


def _address(value: str) -> str | bytes | None:
    """`/path` or `@abstract`, as `sendto` takes it; None for no socket or one we cannot
    reach (a `vsock:` address, which systemd ≥ 254 may give a virtual machine: said once)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + os.fsencode(value[1:])
    if value:
        event(
            log, logging.WARNING, "NOTIFY_SOCKET not supported; not notifying systemd", socket=value
        )
    return None


def _watchdog_s(environ: Mapping[str, str]) -> float | None:
    """`WATCHDOG_USEC` in seconds, when `WATCHDOG_PID` is unset or names this process (a
    child that inherited the variables must not ping for its parent)."""
    try:
        interval_us = int(environ.get("WATCHDOG_USEC", ""))
        pid = int(environ.get("WATCHDOG_PID", str(os.getpid())))
    except ValueError:
        return None
    if interval_us <= 0 or pid != os.getpid():
        return None
    return interval_us / 1e6


def _status_field(text: str) -> str:
    """`STATUS=` on one line: a newline would start a field of its own."""
    line = " ".join(text.splitlines()).strip()
    return f"STATUS={line}" if line else ""
