"""Between readings and lamp commands: feeds the engine and decides what goes on the wire.

No I/O here: the daemon hands in readings and publishes the `Outgoing` messages this returns,
so the rules can be tested without a broker.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from controllers.classes import CLASS_NAMES
from controllers.commands import CommandFilter
from controllers.dali import arc_power
from controllers.engine import REASON_NAMES, Engine, Step
from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.targets import target_segments, unknown_target
from controllers.topology import IntArray, topology_from_site
from gateway.ingest.readings import PedestrianReading, Reading
from gateway.wire.payloads import LampCommand, OverrideMessage
from gateway.wire.topics import Topics

# A counter's direction as the engine takes it: +1 along increasing order, -1 against, 0 unknown.
DIRECTION_SIGN = {"forward": 1, "backward": -1, None: 0}


@dataclass(frozen=True)
class Outgoing:
    """One lamp command ready to publish (QoS 1, retained)."""

    topic: str
    segment: str
    command: LampCommand


@dataclass(frozen=True, eq=False)
class Applied:
    """An override as it was applied: its segments, the level (None: cleared), the duration
    it got and the one it asked for (None: none given). Every override ends: one without a
    duration, or a longer one, gets the policy's `overrides.max_duration_s`."""

    segments: IntArray
    level: float | None
    duration_s: float | None
    asked_s: float | None

    @property
    def capped(self) -> bool:
        """Whether the policy's maximum decided the duration."""
        return self.level is not None and self.duration_s != self.asked_s


class Lighting:
    """The site's engine and command filter, fed by readings and overrides."""

    def __init__(self, site: SiteConfig, policy: Policy, now_s: float) -> None:
        self.topics = Topics(site.broker.topic_prefix, site.site.id)
        self.topology = topology_from_site(site)
        clock = AstronomicalClock(site.site.latitude, site.site.longitude, site.site.timezone)
        self.engine = Engine(self.topology, policy, clock)
        self._filter = CommandFilter(self.topology.size)
        self._seq = 0
        self.last_step: Step | None = None
        self._spoke: dict[float, set[str]] = {}  # heard at → segments, for the next step
        sensed = {d.segment for d in site.devices.values()}
        self.engine.register_sensors(self._indices(sensed), now_s)

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def replace_policy(self, policy: Policy) -> None:
        self.engine.replace_policy(policy)

    def accept(self, reading: Reading, received_s: float) -> bool:
        """Feed one reading; True when it raised presence (commands should go out now).

        Presence counts from when the gateway heard it, not from the device's clock, which
        may be skewed or, for a counter's period total, minutes old. Any other reading only
        says that its segment's sensors are alive: the engine is told by `settle()` (which the
        daemon calls after each batch of messages, and `commands()` calls first), once for
        everything heard at one time, instead of once per reading.
        """
        if isinstance(reading, PedestrianReading) and reading.count > 0:
            direction = np.array([DIRECTION_SIGN[reading.direction]])
            segment = self._indices([reading.segment])
            self.engine.detect(segment, direction, received_s, np.array([reading.count]))
            return True
        spoke = self._spoke.get(received_s)
        if spoke is None:
            spoke = self._spoke[received_s] = set()
        spoke.add(reading.segment)
        return False

    def settle(self) -> None:
        """Give the engine the segments whose sensors spoke since the last call."""
        for heard_s, segments in self._spoke.items():
            self.engine.seen(self._indices(segments), heard_s)
        self._spoke.clear()

    def override(self, target: str, message: OverrideMessage, now_s: float) -> Applied | str:
        """Apply an operator override to a segment, a street or `all`; an error text if not."""
        segments = target_segments(target, self.topology, self.policy)
        if segments is None:
            return unknown_target(target, self.topology, self.policy)
        if message.clear:
            self.engine.clear_override(segments)
            return Applied(segments, None, None, None)
        if message.level is None:
            return "an override needs a level (0..1) or clear: true"
        most_s = self.policy.overrides.max_duration_s
        duration_s = min(message.duration_s or most_s, most_s)
        self.engine.set_override(segments, message.level, now_s + duration_s)
        return Applied(segments, message.level, duration_s, message.duration_s)

    def below_floor(self, applied: Applied) -> list[str]:
        """The segments of an override that the last step lights below their floor (an
        operator may switch a street off at night; the daemon says who did)."""
        step = self.last_step
        if step is None or applied.level is None:
            return []
        segments = applied.segments
        dark = step.lit[segments] & (np.float32(applied.level) < step.floor[segments])
        return [self.topology.ids[i] for i in segments[dark].tolist()]

    def due(self, now_s: float) -> tuple[Step, IntArray]:
        """Step the engine; the step and the segments whose command is due now (changes,
        on/off flips, refreshes), marked as sent."""
        self.settle()
        step = self.engine.step(now_s)
        self.last_step = step
        rules = self.engine.policy.commands
        return step, self._filter.due(step.level, now_s, rules.deadband, rules.refresh_s)

    def commands(self, now_s: float) -> list[Outgoing]:
        """Step the engine and return the commands due, ready to publish."""
        step, due = self.due(now_s)
        rules = self.engine.policy.commands
        levels = np.round(step.level[due].astype(np.float64), 4)
        reasons = step.reason_of(due).tolist()
        arcs = arc_power(step.level[due]).tolist() if rules.dali_arc_power else None
        out = []
        for k, i in enumerate(due.tolist()):
            self._seq += 1
            segment = self.topology.ids[i]
            command = LampCommand(
                level=float(levels[k]),
                ramp_s=round(float(step.ramp_s[i]), 3),
                reason=REASON_NAMES[reasons[k]],
                seq=self._seq,
                ts=now_s,
                arc_power=arcs[k] if arcs is not None else None,
            )
            out.append(Outgoing(self.topics.lamp_set(segment), segment, command))
        return out

    def explain(self, segment: str) -> dict[str, object]:
        """Why a segment is at its level in the last step: every layer's part, for logs."""
        step = self.last_step
        if step is None:
            return {}
        i = self.topology.index_of(segment)
        source = step.schedule[
            self.engine.resolved.schedule_of_combo[self.engine.resolved.combo_of[i]]
        ]
        traffic = int(step.traffic_class[i])
        return {
            "schedule": f"{float(step.schedule_level[i]):.3g} ({source.source})",
            "traffic_class": CLASS_NAMES[traffic] if traffic >= 0 else None,
            "presence": bool(step.presence[i]),
            "failsafe": bool(step.failsafe[i]),
            "override": bool(step.override[i]),
        }

    @property
    def sent(self) -> CommandFilter:
        """What each lamp was last told and when."""
        return self._filter

    def resend_all(self) -> None:
        """Make the next `commands` call send every lamp its level (after a reconnect)."""
        self._filter.forget()

    def resend(self, segment: str) -> None:
        """Make the next `commands` call send this lamp its level (someone else told it one)."""
        self._filter.forget(self._indices([segment]))

    def _indices(self, segment_ids: Iterable[str]) -> IntArray:
        return np.array([self.topology.index_of(s) for s in segment_ids], dtype=np.int64)
