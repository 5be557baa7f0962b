"""The baseline of bench/controller.py: the engine's rules, one segment at a time, in Python.

It starts from the engine's state (copied into lists, so that it does not pay numpy's
per-element cost) and applies every layer to each segment the plain way: the schedule level
through the segment's photometry, the traffic class from its counter's flow with hysteresis,
presence, fail-safe, override, the limits, the fade and its ramp limit, and the command
filter. Levels are kept as float32 values where the engine keeps float32, so that the two can
be compared exactly on reasons and commands.
"""

# The engine's state is private to it (no caller needs it); this baseline alone copies all of
# it, as the starting point of the same tick, so it reads the engine's own attributes.
# ruff: noqa: SLF001

from dataclasses import dataclass

import numpy as np

from controllers.classes import AVERAGE_LUX
from controllers.commands import CommandFilter
from controllers.engine import Engine, Reason
from controllers.schedule import ScheduleState
from controllers.traffic import NO_CLASS
from controllers.units import RATED

_CLASSES = len(AVERAGE_LUX)


@dataclass(frozen=True)
class Result:
    level: float
    reason: int
    ramp_s: float
    due: bool


@dataclass
class Snapshot:
    """The engine's state and settings as plain lists."""

    states: list[ScheduleState]
    combo_of: list[int]
    schedule_of_combo: tuple[int, ...]
    traffic: list[tuple[bool, float, list[float], bool]]
    class_level: list[list[float]]
    rated: list[int]
    floor: list[float]
    top: list[float]
    occupied: list[float]
    ahead: list[float]
    failsafe_level: list[float]
    stale_after_s: list[float]
    ramp_up_s: list[float]
    ramp_down_s: list[float]
    max_ramp_per_s: list[float]
    flow_per_h: list[float]
    source_slot: list[int]
    current_class: list[int]
    occupied_until_s: list[float]
    ahead_until_s: list[float]
    ahead_from_s: list[float]
    has_sensor: list[bool]
    last_seen_s: list[float]
    override_level: list[float]
    override_until_s: list[float]
    previous: list[float]
    fade_start_level: list[float]
    fade_start_s: list[float]
    fade_ramp_s: list[float]
    sent_level: list[float]
    sent_s: list[float]
    deadband: float
    refresh_s: float

    @classmethod
    def of(cls, engine: Engine, commands: CommandFilter, now_s: float) -> "Snapshot":
        """Copy what a tick at `now_s` starts from (the traffic window moved on first)."""
        engine._advance_traffic(now_s)
        r, topology, flow = engine.resolved, engine.topology, engine._flow
        lux = topology.lux_at_full_lx
        table = np.minimum(np.array(AVERAGE_LUX)[None, :] / lux[:, None], 1.0)
        return cls(
            states=[p.state(now_s) for p in engine._programs],
            combo_of=r.combo_of.tolist(),
            schedule_of_combo=r.schedule_of_combo,
            traffic=[
                (t.enabled, t.hysteresis, t.thresholds_per_h.tolist(), t.above_rated)
                for t in r.traffic
            ],
            class_level=table.astype(np.float32).tolist(),
            rated=topology.rated_class.tolist(),
            floor=r.floor.tolist(),
            top=r.max.tolist(),
            occupied=r.occupied_level.tolist(),
            ahead=r.ahead_level.tolist(),
            failsafe_level=r.failsafe_level.tolist(),
            stale_after_s=r.stale_after_s.tolist(),
            ramp_up_s=r.ramp_up_s.tolist(),
            ramp_down_s=r.ramp_down_s.tolist(),
            max_ramp_per_s=r.max_ramp_per_s.tolist(),
            flow_per_h=flow.per_h(np.arange(len(topology.counters))).tolist(),
            source_slot=flow.source_slot.tolist(),
            current_class=engine._classes.current.tolist(),
            occupied_until_s=engine._occupied_until_s.tolist(),
            ahead_until_s=engine._ahead_until_s.tolist(),
            ahead_from_s=engine._ahead_from_s.tolist(),
            has_sensor=engine._has_sensor.tolist(),
            last_seen_s=engine._last_seen_s.tolist(),
            override_level=engine._override_level.tolist(),
            override_until_s=engine._override_until_s.tolist(),
            previous=engine._level.tolist(),
            fade_start_level=engine._fades.start_level.tolist(),
            fade_start_s=engine._fades.start_s.tolist(),
            fade_ramp_s=engine._fades.ramp_s.tolist(),
            sent_level=commands.sent_level.tolist(),
            sent_s=commands.sent_s.tolist(),
            deadband=engine.policy.commands.deadband,
            refresh_s=engine.policy.commands.refresh_s,
        )


def loop_tick(s: Snapshot, now_s: float, segments: range) -> list[Result]:
    """Every layer for each segment of `segments`, one after the other."""
    return [_segment(s, now_s, i) for i in segments]


def _level_of(s: Snapshot, spec: float | str, i: int) -> float:
    if isinstance(spec, float | int):
        return float(np.float32(spec))
    k = s.rated[i] if spec == RATED else int(spec[1]) - 1
    return s.class_level[i][k]


def _select(flow: float, current: int, hysteresis: float, thresholds: list[float]) -> int:
    listed = [k for k in range(_CLASSES) if thresholds[k] == thresholds[k]]  # not NaN
    up = next((k for k in listed if flow >= thresholds[k] * (1 + hysteresis)), listed[-1])
    down = next((k for k in listed if flow >= thresholds[k] * (1 - hysteresis)), listed[-1])
    now = listed[-1] if current == NO_CLASS else current
    return up if up < now else (down if down > now else now)


def _segment(s: Snapshot, now_s: float, i: int) -> Result:
    combo = s.combo_of[i]
    state = s.states[s.schedule_of_combo[combo]]
    lit, floor, top = state.lit, s.floor[i], s.top[i]
    raw = _level_of(s, state.level, i) if lit else 0.0
    traffic_level = 0.0
    enabled, hysteresis, thresholds, above_rated = s.traffic[combo]
    slot = s.source_slot[i]
    if enabled and slot >= 0:
        chosen = _select(s.flow_per_h[slot], s.current_class[i], hysteresis, thresholds)
        chosen = chosen if above_rated else max(chosen, s.rated[i])
        traffic_level = s.class_level[i][chosen]
    schedule = min(max(raw, floor), top) if lit else 0.0
    level, reason = schedule, Reason.SCHEDULE
    if lit and traffic_level > raw:
        level = min(max(traffic_level, floor), top)
        reason = Reason.TRAFFIC if level > schedule else Reason.SCHEDULE
    ahead = s.ahead_until_s[i] > now_s and s.ahead_from_s[i] <= now_s
    if lit and ahead and s.ahead[i] > level:
        level, reason = s.ahead[i], Reason.PRESENCE
    if lit and s.occupied_until_s[i] > now_s and s.occupied[i] > level:
        level, reason = s.occupied[i], Reason.PRESENCE
    stale = s.has_sensor[i] and s.last_seen_s[i] + s.stale_after_s[i] < now_s
    if lit and stale and s.failsafe_level[i] > level:
        level, reason = s.failsafe_level[i], Reason.FAILSAFE
    if s.override_until_s[i] > now_s:
        level, reason = min(s.override_level[i], top), Reason.OVERRIDE
    ramp_s = _ramp(s, now_s, i, level)
    sent = s.sent_level[i]
    due = (
        abs(level - sent) > s.deadband
        or (level == 0) != (sent == 0)
        or s.sent_s[i] <= now_s - s.refresh_s
    )
    return Result(level, int(reason), ramp_s, due)


def _ramp(s: Snapshot, now_s: float, i: int, level: float) -> float:
    previous = s.previous[i]
    if abs(level - previous) < 1e-7:
        return s.fade_ramp_s[i]
    span = s.fade_ramp_s[i]
    progress = min(max((now_s - s.fade_start_s[i]) / span, 0.0), 1.0) if span > 0 else 1.0
    start = s.fade_start_level[i]
    here = start + (previous - start) * progress
    delta = level - here
    ramp_s = s.ramp_up_s[i] if delta >= 0 else s.ramp_down_s[i]
    return max(ramp_s, abs(delta) / s.max_ramp_per_s[i])
