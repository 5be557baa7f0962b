"""Spool → time-series database (InfluxDB v2 write API through influxdb-client), in batches.

Errors are sorted the way a gateway that must lose nothing needs them sorted:
- retry: 429 and 5xx (honouring Retry-After) and a database that cannot be reached: back off,
  keep spooling, try again;
- reject: 400 and 422: the batch is split until the offending lines are alone; those go to the
  dead-letter file with the database's reason, the rest is written;
- too large: 413: the batch is split;
- fatal: 401 and 403: said loudly (it needs an operator), retried slowly, spool kept.
A reading that line protocol cannot carry is never sent (`gateway.store.lines`): it goes to the
dead-letter file with its reason. Refused readings are dead-lettered before the batch is marked
written, so a crash in between dead-letters one twice rather than never.

Test hook: with `LUCIOLE_TEST_HOLD_AFTER_WRITE` naming a FIFO, the writer logs "test hook:
holding" after each database write and waits for a line on that FIFO before it marks the batch
written, so that an end-to-end test can kill the daemon inside that window (nothing else uses it).
"""

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from controllers.settings.site import InfluxSettings
from gateway.logs import event
from gateway.store.lines import UnstorableError, line
from gateway.store.spool import Spool

log = logging.getLogger("luciole.storage")

BACKOFF_MIN_S, BACKOFF_MAX_S, FATAL_RETRY_S = 0.5, 60.0, 300.0
HOLD_ENV = "LUCIOLE_TEST_HOLD_AFTER_WRITE"

Lines = Sequence[tuple[int, str]]  # (row id, its line)


@dataclass(frozen=True)
class Outcome:
    """What one write attempt of a batch did."""

    written: list[int]
    rejected: list[tuple[int, str]]  # (row id, reason: the database's, or why it was not sent)
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
        hold_after_write: Path | None = None,
    ) -> None:
        self._on_stored = on_stored  # (readings, seconds the write took), for metrics
        self._hold_after_write = hold_after_write  # the test hook of the module docstring
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
        lines, unstorable = _lines(rows)
        start = time.perf_counter()
        sent = self._write(lines) if lines else Outcome([], [], None)
        if sent.written and self._on_stored is not None:
            self._on_stored(len(sent.written), time.perf_counter() - start)
        outcome = Outcome(sent.written, unstorable + sent.rejected, sent.retry_after_s)
        if outcome.written or outcome.rejected:
            self._settle(dict(rows), outcome)
        return outcome

    def _settle(self, readings: Mapping[int, Mapping[str, object]], outcome: Outcome) -> None:
        """Dead-letter what was refused, then mark the batch written in one transaction."""
        self._hold(len(outcome.written))
        for row_id, reason in outcome.rejected:
            self._reject(readings[row_id], reason)
        self._spool.mark_written([*outcome.written, *(i for i, _ in outcome.rejected)])
        self.stored += len(outcome.written)

    def _hold(self, written: int) -> None:
        """The test hook of the module docstring: wait for a line on the FIFO."""
        if self._hold_after_write is None:
            return
        event(log, logging.WARNING, "test hook: holding before the mark", written=written)
        with self._hold_after_write.open() as fifo:
            fifo.readline()

    def _write(self, lines: Lines) -> Outcome:
        try:
            self._write_api.write(
                self._settings.bucket, self._settings.org, [text for _, text in lines]
            )
        except ApiException as error:
            return self._api_error(lines, error)
        except Exception as error:  # urllib3's refused, reset, timed out...: all mean retry
            return self._unreachable(error)
        self._failures = 0
        return Outcome([row_id for row_id, _ in lines], [], None)

    def _api_error(self, rows: Lines, error: ApiException) -> Outcome:
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


def _lines(rows: Sequence[tuple[int, Mapping[str, object]]]) -> tuple[Lines, list[tuple[int, str]]]:
    """The rows as lines, and the rows that cannot be one with the reason (never sent)."""
    lines: list[tuple[int, str]] = []
    unstorable: list[tuple[int, str]] = []
    for row_id, reading in rows:
        try:
            lines.append((row_id, line(reading)))
        except UnstorableError as error:
            unstorable.append((row_id, f"not storable in line protocol: {error}"))
    return lines, unstorable


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
    hold = os.environ.get(HOLD_ENV)
    return Writer(spool, influx, token, reject, on_stored=on_stored, hold_after_write=_path(hold))


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


async def last_drain(writer: Writer, spool: Spool, timeout_s: float) -> None:
    """On the way out, store what the database takes within `timeout_s`; the rest waits in
    the spool for the next start."""
    try:
        stored = await asyncio.wait_for(asyncio.to_thread(writer.drain_all), timeout_s)
    except TimeoutError:
        stored = 0
    left = spool.stats().unwritten
    event(log, logging.INFO, "storage stopped", stored_now=stored, left_in_spool=left)
