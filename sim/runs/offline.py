"""The gateway without MQTT: messages in, lamp commands out, in simulated time.

`Pipeline` runs the daemon's own dispatch (`gateway.pipeline`: intake, registry,
de-duplication, lighting, city services), which does no I/O, in the order the daemon calls
it, so an offline replay gives the commands and alerts the daemon gives. Everything of the
gateway that the simulator runs comes through that one module.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controllers.engine import REASON_NAMES
from controllers.settings import Policy, SiteConfig
from controllers.topology import Float32Array, FloatArray, IntArray
from gateway import pipeline
from gateway.pipeline import DIRECTION_SIGN, Accepted, Intake, Lighting, Outgoing, PedestrianReading


@dataclass(frozen=True)
class Command:
    """A lamp command as it went out: when, to which segment, what."""

    time_s: float
    segment: str
    level: float
    ramp_s: float
    reason: str


class Pipeline:
    """Intake and lighting of one site, fed message by message like the daemon's receive and
    tick tasks; `stats` counts what the daemon counts."""

    def __init__(self, site: SiteConfig, policy: Policy, start_s: float) -> None:
        self.intake = Intake(site)
        self.lighting = Lighting(site, policy, start_s)
        self.city = pipeline.CityServices(site, policy)
        self._dispatch = pipeline.Pipeline(self.intake, self.lighting, services=self.city)
        self.stats: Counter[str] = Counter()
        self.counted: Counter[str] = Counter()  # walkers in the readings, by device

    def listens_to(self, topic: str) -> bool:
        """Whether the daemon subscribes to `topic` (its sources and the override topics)."""
        return self._dispatch.listens_to(topic)

    def message(self, topic: str, payload: bytes, received_s: float) -> list[Outgoing]:
        """One received message, as the daemon treats it; the commands it triggers."""
        outcome = self._dispatch.dispatch(topic, payload, received_s)
        if outcome.rejection is not None:
            self.stats[f"rejected_{outcome.rejection.reason}"] += 1
        elif outcome.verdict == "duplicate":
            self.stats["duplicates"] += 1
        elif outcome.verdict == "accepted":
            self.stats["accepted"] += 1
            self.stats["readings"] += len(outcome.readings)
            for reading in outcome.readings:
                if isinstance(reading, PedestrianReading):
                    self.counted[reading.device_id] += reading.count
        return outcome.commands

    def tick(self, now_s: float) -> list[Outgoing]:
        """The periodic step: expiries, schedule changes, refreshes."""
        return self.lighting.commands(now_s)

    def serve(self, now_s: float) -> pipeline.Served:
        """The city services' step, as the daemon runs it after each batch and tick: the
        alerts and the collection list it publishes (and the rows it would store)."""
        return self._dispatch.serve(now_s)

    def reconnected(self) -> None:
        """After a broker outage the daemon sends every lamp its level again."""
        self.lighting.resend_all()


def as_commands(out: list[Outgoing]) -> list[Command]:
    return [
        Command(o.command.ts, o.segment, o.command.level, o.command.ramp_s, o.command.reason)
        for o in out
    ]


@dataclass(frozen=True, eq=False)
class Events:
    """Decoded sensor events as arrays, in receive order: pedestrian counts (count > 0 is a
    detection, 0 a sign of life) and every other reading as a sign of life."""

    time_s: FloatArray
    segment: IntArray
    direction: IntArray
    count: IntArray

    def __len__(self) -> int:
        return len(self.time_s)


def decode_events(site: SiteConfig, messages: Iterable[tuple[float, str, bytes]]) -> Events:
    """Run every (receive time, topic, payload) through the daemon's intake once."""
    intake = Intake(site)
    segment_of = {s: i for i, s in enumerate(s.id for s in site.segments)}
    rows: list[tuple[float, int, int, int]] = []
    for received_s, topic, payload in messages:
        result = intake.message(topic, payload, received_s)
        if not isinstance(result, Accepted):
            continue
        for reading in result.readings:
            count, direction = 0, 0
            if isinstance(reading, PedestrianReading):
                count, direction = reading.count, DIRECTION_SIGN[reading.direction]
            rows.append((received_s, segment_of[reading.segment], direction, count))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return Events(
        table[:, 0].copy(),
        table[:, 1].astype(np.int64),
        table[:, 2].astype(np.int64),
        table[:, 3].astype(np.int64),
    )


class BatchPipeline:
    """The vectorised path: the events of each tick go to the engine as one batch, and the
    commands due come out as arrays (nothing is sent offline, so no message is built).

    What it gives up against `Pipeline`: a detection takes effect at the end of its tick
    instead of at once (the daemon's immediate presence path), with its hold counted from
    the latest detection of the batch, so lamps react up to one tick later. Meant for long
    traces and policy sweeps, where that tick matters less than the hours saved. The engine
    is the daemon's (`Lighting` builds it), and so is the choice of the commands due
    (`Lighting.due`, which `Lighting.commands` uses too).
    """

    def __init__(self, site: SiteConfig, policy: Policy, start_s: float) -> None:
        self.lighting = Lighting(site, policy, start_s)
        self.commands = 0

    def tick(self, now_s: float) -> list[Command]:
        """Step the engine; the commands due now (built only if someone looks at them)."""
        due = self.tick_arrays(now_s)
        ids = self.lighting.topology.ids
        return [
            Command(now_s, ids[i], round(float(level), 4), float(ramp), REASON_NAMES[reason])
            for i, level, ramp, reason in zip(*due, strict=True)
        ]

    def tick_arrays(
        self, now_s: float
    ) -> tuple[IntArray, Float32Array, Float32Array, npt.NDArray[np.int8]]:
        """Step the engine; (segments, levels, ramps, reasons) of the commands due now."""
        step, due = self.lighting.due(now_s)
        self.commands += len(due)
        return due, step.level[due], step.ramp_s[due], step.reason_of(due)

    def run(self, events: Events, tick_s: float, until_s: float | None = None) -> int:
        """Replay `events` tick by tick; returns the number of commands sent."""
        if len(events) == 0:
            return 0
        engine = self.lighting.engine
        start_s = float(events.time_s[0])
        end_s = float(events.time_s[-1]) if until_s is None else until_s
        ticks_s = start_s + tick_s * np.arange(1, int(np.ceil((end_s - start_s) / tick_s)) + 2)
        cuts = np.searchsorted(events.time_s, ticks_s, side="right")
        first = 0
        for tick_s_, cut in zip(ticks_s.tolist(), cuts.tolist(), strict=True):
            if cut > first:
                batch = slice(first, cut)
                last_s = float(events.time_s[cut - 1])
                moving = events.count[batch] > 0
                engine.seen(events.segment[batch], last_s)
                if moving.any():
                    engine.detect(
                        events.segment[batch][moving], events.direction[batch][moving], last_s
                    )
                first = cut
            self.tick_arrays(tick_s_)
        return self.commands
