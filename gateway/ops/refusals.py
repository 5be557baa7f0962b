"""What the daemon says about refused messages: a sample and counts, never a line each.

A flood of refusals used to cost a log line and a dead-letter message apiece (88 MB of log
in 50 s; the dead-letter topic a one-to-one amplifier). Now, per interval of `interval_s`
(10 s, on the real clock: it is the log's volume that is at stake):
- the first refusal of each reason is logged in full (`message rejected`, or `message shed`);
- at the end of the interval one line, `messages refused`, gives the count by reason and the
  sources that sent most (when more were refused than were logged one by one);
- dead letters go to the topic through a token bucket (`topic_rate`, 10 a second): one that
  finds it empty is held back, and the next one published says how many were (`held_back`);
- the interval's summary letter (reason `summary`) counts what was shed and held back: it
  goes to the dead-letter file when messages were shed (they have no letter of their own
  there) and to the topic when anything was shed or held back.
"""

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from gateway.logs import event
from gateway.ops.admission import TokenBucket
from gateway.store.deadletter import DeadLetterFile, Excerpt, letter

log = logging.getLogger("luciole.gateway")

# A flood shows in the log within 10 s, and costs it at most 8,640 summary lines a day (about
# 2 MB): a run of bench/flood.py, 20,000 refusals a second at its peak, wrote 1.7 KB in all.
INTERVAL_S = 10.0
# Ten a second is more than an operator reads, and few enough for a dashboard to keep all.
TOPIC_RATE = 10.0
TOPIC_BURST = 10.0
TOP_SOURCES = 5
MAX_SOURCES = 1000  # sources counted by name per interval; the rest under OTHERS
OTHERS = "(others)"

# Publishes (topic, body) at QoS 1: the daemon's `Publisher.publish`.
Publish = Callable[[str, str], Awaitable[None]]
Record = dict[str, object]


class Refusals:
    """Counts of refused messages per interval, their letters, and the topic's budget."""

    def __init__(
        self,
        file: DeadLetterFile,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = INTERVAL_S,
        topic_rate: float = TOPIC_RATE,
        topic_burst: float = TOPIC_BURST,
    ) -> None:
        self.interval_s = interval_s
        self.file = file
        self._letters: list[Record] = []  # this batch's, for the file and then the topic
        self._clock = clock
        self._started = clock()
        self._topic = TokenBucket(topic_rate, topic_burst, self._started)
        self._reasons: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()
        self._shed_sources: Counter[str] = Counter()
        self._logged = 0
        self._held_back = 0  # since the last letter published
        self._held_back_interval = 0

    def refused(self, topic: str, source: str, reason: str, detail: str) -> None:
        """Count one refused message; log it in full if it is its reason's first here."""
        if not self._reasons[reason]:
            self._logged += 1
            what = "message shed" if reason == "shed" else "message rejected"
            event(log, logging.WARNING, what, topic=topic, reason=reason, detail=detail)
        self._reasons[reason] += 1
        self._count(self._sources, source)
        if reason == "shed":
            self._count(self._shed_sources, source)

    def reject(
        self,
        topic: str,
        source: str,
        reason: str,
        detail: str,
        *,
        payload: bytes | Excerpt,
        received_s: float,
    ) -> None:
        """A message decoded (or read) and refused: counted, and its letter kept for `send`."""
        self.refused(topic, source, reason, detail)
        self._letters.append(letter(topic, reason, detail, payload, received_s))

    async def send(self, publish: Publish, topic: str | None) -> None:
        """The batch's letters to the file (one write, in a worker thread), then to the
        dead-letter `topic` (None: not published) within its budget, in that order: a letter
        seen on the topic is in the file."""
        if not self._letters:
            return
        letters, self._letters = self._letters, []
        await asyncio.to_thread(self.file.write_many, letters)
        if topic is None:
            return
        for record in letters:
            published = self.to_topic(record)
            if published is not None:
                await publish(topic, json.dumps(published))

    async def close(self, publish: Publish, topic: str | None, received_s: float) -> None:
        """End the interval (see `close_interval`) and send its summary letter, if any."""
        summary = self.close_interval(received_s)
        if summary is None:
            return
        if summary["shed"]:
            await asyncio.to_thread(self.file.write, summary)
        if topic is not None:
            await publish(topic, json.dumps(summary))

    def to_topic(self, record: Record) -> Record | None:
        """What to publish on the dead-letter topic for `record`: it, with the count held
        back before it, or None when the topic's budget is spent (it is held back)."""
        if not self._topic.take(self._clock()):
            self._held_back += 1
            self._held_back_interval += 1
            return None
        if self._held_back:
            record, self._held_back = {**record, "held_back": self._held_back}, 0
        return record

    def close_interval(self, received_s: float) -> Record | None:
        """Log the interval's summary and start the next; the summary letter, if any."""
        count = sum(self._reasons.values())
        if count > self._logged:
            event(
                log,
                logging.WARNING,
                "messages refused",
                count=count,
                interval_s=round(self._clock() - self._started, 1),
                reasons=dict(self._reasons.most_common()),
                sources=dict(self._sources.most_common(TOP_SOURCES)),
                held_back=self._held_back_interval,
            )
        summary = self._summary(received_s)
        self._started = self._clock()
        self._reasons.clear()
        self._sources.clear()
        self._shed_sources.clear()
        self._logged = self._held_back_interval = 0
        return summary

    def _summary(self, received_s: float) -> Record | None:
        shed = self._reasons["shed"]
        if not shed and not self._held_back_interval:
            return None
        self._held_back = 0  # told here
        return {
            "received": received_s,
            "topic": None,
            "reason": "summary",
            "detail": f"{shed} message(s) shed, {self._held_back_interval} letter(s) held "
            f"back from the dead-letter topic in the last {self.interval_s:g} s",
            "interval_s": self.interval_s,
            "shed": shed,
            "shed_sources": dict(self._shed_sources.most_common(TOP_SOURCES)),
            "held_back": self._held_back_interval,
        }

    @staticmethod
    def _count(counter: Counter[str], source: str) -> None:
        counter[source if source in counter or len(counter) < MAX_SOURCES else OTHERS] += 1
