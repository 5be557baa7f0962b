"""Spool → time-series database (InfluxDB v2 write API through influxdb-client), in batches.

Errors are sorted the way a gateway that must lose nothing needs them sorted:
- retry: 429 and 5xx (honouring Retry-After) and a database that cannot be reached: back off,
  keep spooling, try again;
- reject: 400 and 422: the batch is split until the offending lines are alone; those go to the
  dead-letter file with the database's reason, the rest is written;
- too large: 413: the batch is split;
- fatal: 401 and 403: said loudly (it needs an operator), retried slowly, spool kept.
"""

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from controllers.settings.site import InfluxSettings
from gateway.logs import event
from gateway.store.spool import Spool

log = logging.getLogger("luciole.storage")

_TAGS = ("device_id", "segment", "direction")
_SKIP = frozenset({"kind", "ts_s", *_TAGS})
BACKOFF_MIN_S, BACKOFF_MAX_S, FATAL_RETRY_S = 0.5, 60.0, 300.0


def line(reading: Mapping[str, object]) -> str:
    """One spooled reading as InfluxDB line protocol (nanosecond timestamp)."""
    measurement = str(reading["kind"])
    tags = "".join(
        f",{key}={_escape_tag(str(reading[key]))}" for key in _TAGS if reading.get(key) is not None
    )
    fields = ",".join(
        f"{key}={_field(value)}"
        for key, value in reading.items()
        if key not in _SKIP and value is not None and value not in ([], ())
    )
    ts_ns = round(float(str(reading["ts_s"])) * 1e9)
    return f"{measurement}{tags} {fields} {ts_ns}"


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _field(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class Outcome:
    """What one write attempt of a batch did."""

    written: list[int]
    rejected: list[tuple[int, str]]  # (row id, reason from the database)
    retry_after_s: float | None  # set when nothing more can be done now


class Writer:
    """Drains the spool into the database; `run()` until cancelled."""

    def __init__(
        self,
        spool: Spool,
        settings: InfluxSettings,
        token: str,
        reject: Callable[[Mapping[str, object], str], None],
        *,
        rng: random.Random | None = None,
        on_stored: Callable[[int, float], None] | None = None,
    ) -> None:
        self._on_stored = on_stored  # (readings, seconds the write took), for metrics
        self._draining = threading.Lock()
        self._spool = spool
        self._settings = settings
        self._client = InfluxDBClient(url=settings.url, token=token, org=settings.org)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._reject = reject
        self._rng = rng or random.Random()
        self.stored = 0
        self._failures = 0

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    async def run(self, idle_s: float = 0.5) -> None:
        while True:
            done = await asyncio.to_thread(self.drain_once)
            if done.retry_after_s is not None:
                await asyncio.sleep(done.retry_after_s)
            elif not done.written and not done.rejected:
                await asyncio.sleep(idle_s)

    def drain_all(self) -> int:
        """Write until the spool is empty or the database says wait (blocking); rows stored."""
        stored = 0
        while True:
            outcome = self.drain_once()
            stored += len(outcome.written)
            if outcome.retry_after_s is not None or not (outcome.written or outcome.rejected):
                return stored

    def drain_once(self) -> Outcome:
        """Write one batch of unwritten rows (blocking; run it in a thread).

        One drain at a time: a cancelled `run()` leaves its worker thread going, and the last
        drain on stop must not read the same rows and write them a second time.
        """
        with self._draining:
            return self._drain_batch()

    def _drain_batch(self) -> Outcome:
        rows = self._spool.unwritten(self._settings.batch_size)
        if not rows:
            return Outcome([], [], None)
        start = time.perf_counter()
        outcome = self._write(rows)
        if outcome.written and self._on_stored is not None:
            self._on_stored(len(outcome.written), time.perf_counter() - start)
        if outcome.written or outcome.rejected:
            self._spool.mark_written([*outcome.written, *(i for i, _ in outcome.rejected)])
            self.stored += len(outcome.written)
        readings = dict(rows)
        for row_id, reason in outcome.rejected:
            self._reject(readings[row_id], reason)
        return outcome

    def _write(self, rows: Sequence[tuple[int, Mapping[str, object]]]) -> Outcome:
        try:
            self._write_api.write(
                self._settings.bucket, self._settings.org, [line(body) for _, body in rows]
            )
        except ApiException as error:
            return self._api_error(rows, error)
        except Exception as error:  # urllib3's refused, reset, timed out...: all mean retry
            return self._unreachable(error)
        self._failures = 0
        return Outcome([row_id for row_id, _ in rows], [], None)

    def _api_error(
        self, rows: Sequence[tuple[int, Mapping[str, object]]], error: ApiException
    ) -> Outcome:
        status = int(error.status or 0)
        if status in (400, 413, 422):
            if len(rows) == 1:
                if status == 413:
                    return Outcome([], [(rows[0][0], "too large for the database")], None)
                return Outcome([], [(rows[0][0], _reason(error))], None)
            half = len(rows) // 2
            first, second = self._write(rows[:half]), self._write(rows[half:])
            retry = first.retry_after_s or second.retry_after_s
            return Outcome(first.written + second.written, first.rejected + second.rejected, retry)
        if status in (401, 403):
            event(
                log,
                logging.ERROR,
                "the database refuses our credentials; readings stay "
                "in the spool until the token is fixed",
                status=status,
            )
            return Outcome([], [], FATAL_RETRY_S)
        return self._retry(f"database answered {status}", _retry_after(error))

    def _unreachable(self, error: Exception) -> Outcome:
        return self._retry(f"database unreachable: {type(error).__name__}", None)

    def _retry(self, why: str, retry_after_s: float | None) -> Outcome:
        self._failures += 1
        backoff = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** min(self._failures, 16))
        delay = retry_after_s if retry_after_s is not None else backoff * self._rng.uniform(0.5, 1)
        event(log, logging.WARNING, f"{why}; readings stay in the spool", retry_in_s=delay)
        return Outcome([], [], delay)


def _reason(error: ApiException) -> str:
    body = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else error.body
    return f"database refused the line ({error.status}): {body or error.reason}"[:500]


def _retry_after(error: ApiException) -> float | None:
    headers: Mapping[str, str] = error.headers or {}
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def build_writer(
    influx: InfluxSettings | None,
    spool: Spool,
    reject: Callable[[Mapping[str, object], str], None],
    on_stored: Callable[[int, float], None] | None = None,
) -> Writer | None:
    """The writer for a configured database (None: readings stay in the local spool)."""
    if influx is None:
        return None
    token = os.environ.get(influx.token_env, "")
    if not token:
        event(
            log,
            logging.WARNING,
            "no database token in the environment; trying without",
            variable=influx.token_env,
        )
    return Writer(spool, influx, token, reject, on_stored=on_stored)


async def last_drain(writer: Writer, spool: Spool, timeout_s: float) -> None:
    """On the way out, store what the database takes within `timeout_s`; the rest waits in
    the spool for the next start."""
    try:
        stored = await asyncio.wait_for(asyncio.to_thread(writer.drain_all), timeout_s)
    except TimeoutError:
        stored = 0
    left = spool.stats().unwritten
    event(log, logging.INFO, "storage stopped", stored_now=stored, left_in_spool=left)
