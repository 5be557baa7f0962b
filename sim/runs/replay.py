"""Offline replay of a recorded trace: its messages through the daemon's pipeline at their
recorded receive times, ticks every `tick_s` in between, and a check of the commands it gives
against the commands the trace recorded. The city services run too, so a recorded month of
meters replayed says which alerts it would have raised."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from controllers.settings import Policy, SiteConfig
from gateway.pipeline import Outgoing, Served
from gateway.wire.payloads import LampCommand
from gateway.wire.topics import Topics
from gateway.wire.trace import Record
from sim.runs.offline import Command, Pipeline, as_commands


@dataclass(frozen=True)
class Replayed:
    """What a replay gave, and what the trace says the live gateway gave. `published` is
    everything the daemon would have published, in order: (time, topic, payload) of the lamp
    commands, the alerts and the collection list."""

    commands: list[Command]
    recorded: list[Command]
    messages: int
    published: list[tuple[float, str, str]]


def replay_offline(
    records: Iterable[Record], site: SiteConfig, policy: Policy, start_s: float | None = None
) -> Replayed:
    """Feed every record the daemon would have received; tick as the daemon does."""
    topics = Topics(site.broker.topic_prefix, site.site.id)
    tick_s = site.tick_s
    pipeline: Pipeline | None = None
    next_tick_s = 0.0
    recorded: list[Command] = []
    out = _Published()
    messages = 0
    for record in records:
        if pipeline is None:
            begin_s = record.t if start_s is None else start_s
            pipeline = Pipeline(site, policy, begin_s)
            next_tick_s = begin_s
        while next_tick_s <= record.t:  # the daemon's ticks go on whatever arrives
            out.commands(next_tick_s, pipeline.tick(next_tick_s))
            out.served(next_tick_s, pipeline.serve(next_tick_s))
            next_tick_s += tick_s
        segment = topics.parse_lamp_set(record.topic)
        if segment is not None:
            recorded += _recorded(segment, record.payload)
        elif pipeline.listens_to(record.topic):
            out.commands(record.t, pipeline.message(record.topic, record.payload, record.t))
            out.served(record.t, pipeline.serve(record.t))  # a batch of one message
            messages += 1
    return Replayed(out.sent, recorded, messages, out.published)


class _Published:
    """What the replayed daemon sent, as commands and as (time, topic, payload)."""

    def __init__(self) -> None:
        self.sent: list[Command] = []
        self.published: list[tuple[float, str, str]] = []

    def commands(self, t_s: float, outgoing: list[Outgoing]) -> None:
        self.sent += as_commands(outgoing)
        self.published += [(t_s, o.topic, o.command.model_dump_json()) for o in outgoing]

    def served(self, t_s: float, served: Served) -> None:
        self.published += [(t_s, m.topic, m.payload) for m in served.messages]


def _recorded(segment: str, payload: bytes) -> list[Command]:
    try:
        command = LampCommand.model_validate_json(payload)
    except ValidationError:
        return []
    return [Command(command.ts, segment, command.level, command.ramp_s, command.reason)]


@dataclass(frozen=True)
class Agreement:
    """How two command streams compare, segment by segment, refreshes left out."""

    changes: int
    matched: int
    mismatched: list[str]
    worst_delay_s: float

    @property
    def same(self) -> bool:
        return not self.mismatched


def compare(replayed: list[Command], recorded: list[Command]) -> Agreement:
    """Same commands = for every segment, the same sequence of (level, reason) changes.

    Refreshes (the same level again) depend on when the daemon's ticks fell, which a trace
    does not record, so they are left out; so is the time of each change, whose distance is
    reported as `worst_delay_s` instead.
    """
    mine, theirs = _changes(replayed), _changes(recorded)
    mismatched: list[str] = []
    matched, worst_s = 0, 0.0
    for segment in sorted(set(mine) | set(theirs)):
        a, b = mine.get(segment, []), theirs.get(segment, [])
        same = [x[1:] for x in a] == [y[1:] for y in b]
        if not same:
            mismatched.append(f"{segment}: replay {_show(a)} vs recorded {_show(b)}")
            continue
        matched += len(a)
        worst_s = max([worst_s, *(abs(x[0] - y[0]) for x, y in zip(a, b, strict=True))])
    total = sum(len(v) for v in theirs.values())
    return Agreement(total, matched, mismatched, worst_s)


def _changes(commands: list[Command]) -> dict[str, list[tuple[float, float, str]]]:
    by_segment: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for c in sorted(commands, key=lambda c: c.time_s):
        seen = by_segment[c.segment]
        if not seen or (seen[-1][1], seen[-1][2]) != (c.level, c.reason):
            seen.append((c.time_s, c.level, c.reason))
    return by_segment


def _show(changes: list[tuple[float, float, str]]) -> str:
    head = ", ".join(f"{level:g}/{reason}" for _, level, reason in changes[:6])
    return f"[{head}{', ...' if len(changes) > 6 else ''}] ({len(changes)})"
