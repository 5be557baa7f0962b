"""Hourly volumes from a water meter's index: the ring of the last hours, and the walk over the
hour boundaries between two readings.

A meter reports when it likes (every quarter of an hour, every few hours, after a silence);
the rules want hours. The index is interpolated linearly at every whole UTC hour boundary
between two readings, and an hour's volume is the index at its end minus the index at its
start. Between two readings further apart than `max_gap_s` nobody knows how the water ran:
those hours are unknown (NaN), never guessed, and so is the start of the hour the new reading
falls in (unless the reading sits exactly on that hour's boundary). A new baseline (a NaN
volume: the first reading, a replaced meter) makes its hours unknown the same way.

Then the rules that run when an hour completes, all meters that completed one at once: the
leak (Kamstrup), the night flow, and the consumption period (water.py has the rest).
"""

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from controllers.services.changes import BoolArray, Change, Event, FloatArray, IntArray

if TYPE_CHECKING:
    from controllers.services.water import WaterRules, WaterState

HOUR_S = 3600.0
# A period is judged, and joins the usual consumption, only when this share of its hours is
# known: a meter installed mid-week, or a week mostly silent, would otherwise enter the
# history at a fraction of its volume and make the next full week look high.
PERIOD_KNOWN_SHARE = 0.75


class Outcome:
    """The changes and events of one step, collected from arrays."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.events: list[Event] = []

    def change(
        self,
        kind: str,
        meters: IntArray,
        active: bool,
        times_s: tuple[FloatArray, FloatArray],
        details: dict[str, FloatArray] | None = None,
    ) -> None:
        """One change per meter; `times_s` is (since, at), `details` one array per number."""
        if not len(meters):
            return
        since_s, at_s = (times.tolist() for times in times_s)
        columns = {key: value.tolist() for key, value in (details or {}).items()}
        for i, meter in enumerate(meters.tolist()):
            numbers = {key: float(value[i]) for key, value in columns.items()}
            self.changes.append(Change(kind, meter, active, since_s[i], at_s[i], numbers))

    def event(
        self, kind: str, meters: IntArray, at_s: FloatArray, details: dict[str, FloatArray]
    ) -> None:
        """One event per meter, `details` one array per number."""
        if not len(meters):
            return
        columns = {key: value.tolist() for key, value in details.items()}
        for i, (meter, at) in enumerate(zip(meters.tolist(), at_s.tolist(), strict=True)):
            numbers = {key: float(value[i]) for key, value in columns.items()}
            self.events.append(Event(kind, meter, at, numbers))

    def ordered(self) -> tuple[list[Change], list[Event]]:
        """In time order (then meter, kind), whatever order the rules ran in: a replay and
        the reference give the same lists."""
        self.changes.sort(key=lambda c: (c.at_s, c.index, c.kind, c.active))
        self.events.sort(key=lambda e: (e.at_s, e.index, e.kind, sorted(e.details.items())))
        return self.changes, self.events


@dataclass(frozen=True, eq=False)
class Step:
    """One call of step_water: the meters' state, the rules, the local time's offset, and
    where the changes go."""

    state: "WaterState"
    rules: "WaterRules"
    utc_offset_s: float
    out: Outcome


class HourRing:
    """The last `hours` complete hourly volumes of every meter (NaN: unknown).

    Slot `h % hours` of a meter's row holds hour number `h` (whole hours since the epoch):
    no pointer to move, and a meter's newest hour says where its ring stands. `newest_hour`
    is NaN before a meter's first reading; `start_m3` is the index at the start of the hour
    in progress, NaN when unknown."""

    def __init__(self, n: int, hours: int) -> None:
        if hours < 1:
            raise ValueError(f"a ring holds at least one hour, not {hours}")
        self.hours = hours
        self.volume_m3: FloatArray = np.full((n, hours), np.nan)
        self.newest_hour: FloatArray = np.full(n, np.nan)
        self.start_m3: FloatArray = np.full(n, np.nan)

    def push(self, meters: IntArray, hour: FloatArray, volume_m3: FloatArray) -> None:
        """Hour number `hour` of each meter completed with `volume_m3` (the next one after its
        newest: the walk completes hours in order)."""
        self.volume_m3[meters, np.mod(hour, self.hours).astype(np.int64)] = volume_m3
        self.newest_hour[meters] = hour

    def forget(self, meters: IntArray, through_hour: FloatArray) -> None:
        """Every hour after each meter's newest, through `through_hour`, is unknown: a silence
        skipped in one go (more hours than the ring holds just empty it)."""
        offsets = np.arange(self.hours)
        newest = self.newest_hour[meters]
        count = np.minimum(through_hour - newest, self.hours)
        slots = np.mod(newest[:, None] + 1 + offsets, self.hours).astype(np.int64)
        unknown = offsets[None, :] < count[:, None]
        rows = np.broadcast_to(meters[:, None], slots.shape)
        self.volume_m3[rows[unknown], slots[unknown]] = np.nan
        self.newest_hour[meters] = through_hour

    def last(self, meters: IntArray, hours: int) -> FloatArray:
        """[len(meters), hours]: each meter's last `hours` complete hours, oldest first. The
        meters must have had a reading (a newest hour)."""
        first = self.newest_hour[meters] - hours + 1
        slots = np.mod(first[:, None] + np.arange(hours), self.hours).astype(np.int64)
        window: FloatArray = self.volume_m3[meters[:, None], slots]
        return window


@dataclass(frozen=True, eq=False)
class Completed:
    """Hours that just completed, one per meter: hour number (its start / 3600), volume."""

    meters: IntArray
    hour: FloatArray
    volume_m3: FloatArray

    @property
    def end_s(self) -> FloatArray:
        """When each hour ended: the time of whatever an hourly rule raises."""
        end: FloatArray = (self.hour + 1) * HOUR_S
        return end


@dataclass(frozen=True, eq=False)
class HourSpan:
    """Each meter's move from its previous reading (`t0_s`, index `start_m3`; NaN time: none)
    to a new one (`t1_s`, `start_m3 + volume_m3`). `known`: the volume is known and the
    readings close enough for the hours between to be interpolated."""

    meters: IntArray
    t0_s: FloatArray
    t1_s: FloatArray
    start_m3: FloatArray
    volume_m3: FloatArray
    known: BoolArray

    @cached_property
    def first_hour(self) -> FloatArray:
        """The hour the previous reading fell in: the first to complete."""
        hour: FloatArray = np.floor(self.t0_s / HOUR_S)
        return hour

    @cached_property
    def last_hour(self) -> FloatArray:
        """The hour the new reading falls in: the one in progress afterwards."""
        hour: FloatArray = np.floor(self.t1_s / HOUR_S)
        return hour

    @cached_property
    def crossed(self) -> FloatArray:
        """How many hour boundaries each move crosses (none from no previous reading)."""
        crossed: FloatArray = self.last_hour - self.first_hour
        crossed[np.isnan(crossed)] = 0.0
        return crossed

    def complete(self, ring: HourRing, k: int) -> Completed:
        """The hours that end at the `k`-th boundary (1: the first) of the meters that cross
        that many, pushed into the ring: the index interpolated there minus the index at the
        hour's start (unknown, NaN, when either is)."""
        crossing = self.crossed >= k
        meters = self.meters[crossing]
        hour = self.first_hour[crossing] + (k - 1)
        end_s = (hour + 1) * HOUR_S
        t0, dt = self.t0_s[crossing], self.t1_s[crossing] - self.t0_s[crossing]
        level = self.start_m3[crossing] + self.volume_m3[crossing] * ((end_s - t0) / dt)
        level = np.where(self.known[crossing], level, np.nan)
        volume = level - ring.start_m3[meters]
        ring.start_m3[meters] = level
        ring.push(meters, hour, volume)
        return Completed(meters, hour, volume)

    def finish(self, ring: HourRing, walked: int) -> BoolArray:
        """After the first `walked` boundaries: the rest are unknown hours (a silence, see
        `boundary_cap`), and the hour in progress starts where the new reading says, unknown
        after an unknown move unless the reading sits on its boundary. The meters whose
        silence was skipped (True), for the rules that still have to hear of it."""
        skipped = self.crossed > walked
        if skipped.any():
            ring.forget(self.meters[skipped], self.last_hour[skipped] - 1)
        first = np.isnan(self.t0_s)
        ring.newest_hour[self.meters[first]] = self.last_hour[first] - 1
        unknown = ~self.known
        volume_known = np.isfinite(self.volume_m3)
        end_m3 = np.where(volume_known, self.start_m3 + self.volume_m3, self.start_m3)
        on_boundary = self.t1_s == self.last_hour * HOUR_S
        ring.start_m3[self.meters[unknown]] = np.where(
            on_boundary[unknown], end_m3[unknown], np.nan
        )
        return skipped


def walk(step: Step, span: HourSpan) -> None:
    """Complete the hours each move closes, one boundary at a time for all meters, the
    hourly rules after each; then the rest of a long silence in one go."""
    walked = int(min(span.crossed.max(initial=0), step.rules.boundary_cap))
    for k in range(1, walked + 1):
        done = span.complete(step.state.ring, k)
        _leak(step, done)
        _night(step, done)
        _period(step, done)
    skipped = span.finish(step.state.ring, walked)
    _silence(step, span, skipped, walked)


def _leak(step: Step, done: Completed) -> None:
    """Kamstrup's rule after a known hour: a meter with no dry hour in the window and enough
    known ones leaks, since the start of its run of flowing hours, at the rate of its driest
    hour; an active leak ends at its first known dry hour. Unknown hours do nothing."""
    state, rules, out = step.state, step.rules, step.out
    known = np.isfinite(done.volume_m3)
    meters, volume, end_s = done.meters[known], done.volume_m3[known], done.end_s[known]
    dry_m3 = rules.leak_sensitivity * rules.q3_m3h[meters]  # × one hour: m³
    dry = volume < dry_m3
    active = state.leak_active[meters]

    ends = active & dry
    m = meters[ends]
    since, rate = state.leak_since_s[m], state.leak_rate_m3h[m]
    lost = rate * ((end_s[ends] - HOUR_S - since) / HOUR_S)  # its hours; not the dry one
    out.change("water_leak", m, False, (since, end_s[ends]), {"rate_m3h": rate, "volume_m3": lost})
    state.leak_active[m] = False
    going = meters[active & ~dry]
    state.leak_rate_m3h[going] = np.fmin(state.leak_rate_m3h[going], volume[active & ~dry])

    maybe = ~active & ~dry & ~rules.continuous_flow_expected[meters]
    m, dry_m3, end_s = meters[maybe], dry_m3[maybe], end_s[maybe]
    window = state.ring.last(m, rules.leak_window_h)
    enough = np.isfinite(window).sum(axis=1) >= rules.leak_min_known_h
    leaks = enough & ~(window < dry_m3[:, None]).any(axis=1)
    m, dry_m3, end_s = m[leaks], dry_m3[leaks], end_s[leaks]
    rate = np.fmin.reduce(window[leaks], axis=1)
    since = _run_start_s(state.ring, m, dry_m3)
    lost = rate * ((end_s - since) / HOUR_S)
    out.change("water_leak", m, True, (since, end_s), {"rate_m3h": rate, "volume_m3": lost})
    state.leak_active[m] = True
    state.leak_since_s[m], state.leak_rate_m3h[m] = since, rate


def _run_start_s(ring: HourRing, meters: IntArray, dry_m3: FloatArray) -> FloatArray:
    """When each meter's run of flowing hours began: the start of the first known hour after
    its last known dry hour in the ring (the first known hour if none is dry). An unknown
    hour before the run is not claimed for it: nothing says the water ran then."""
    hours = ring.last(meters, ring.hours)
    dry = hours < dry_m3[:, None]
    position = np.arange(ring.hours)
    last_dry = np.where(dry.any(axis=1), ring.hours - 1 - np.argmax(dry[:, ::-1], axis=1), -1)
    after = np.isfinite(hours) & (position[None, :] > last_dry[:, None])
    first = np.argmax(after, axis=1)
    since: FloatArray = (ring.newest_hour[meters] - ring.hours + 1 + first) * HOUR_S
    return since


def _local_hour(hour: FloatArray, utc_offset_s: float) -> FloatArray:
    """The local hour (0-23) an hour number starts in (a half-hour offset: the hour it starts
    in, 02:30 is hour 2)."""
    local: FloatArray = np.mod(hour + np.floor(utc_offset_s / HOUR_S), 24)
    return local


def _night(step: Step, done: Completed) -> None:
    """When the night's last hour completes: its driest known hour is the night flow (an
    event when one is known: NaN remembered otherwise)."""
    state, rules = step.state, step.rules
    last_hour = (rules.night_end_h - 1) % 24
    ends = _local_hour(done.hour, step.utc_offset_s) == last_hour
    meters = done.meters[ends]
    night = np.fmin.reduce(state.ring.last(meters, rules.night_hours), axis=1)
    state.night_m3h[meters] = night
    seen = np.isfinite(night)
    step.out.event("night_flow", meters[seen], done.end_s[ends][seen], {"m3h": night[seen]})


def _period_of(step: Step, time_s: FloatArray) -> FloatArray:
    """The number of the consumption period `time_s` falls in (periods start at local
    midnight: epoch multiples of the period, shifted by the UTC offset)."""
    period_s = step.rules.consumption_period_s
    period: FloatArray = np.floor((time_s + step.utc_offset_s) / period_s)
    return period


def _period(step: Step, done: Completed) -> None:
    """Add a completed hour to the period it starts in; close a period whose end it
    reached. A later period than the open one (the UTC offset moved) closes the open one."""
    state, meters = step.state, done.meters
    hour_period = _period_of(step, done.hour * HOUR_S)
    opening = np.isnan(state.period[meters])
    state.period[meters[opening]] = hour_period[opening]
    late = hour_period > state.period[meters]
    _close(step, meters[late], hour_period[late])
    known = np.isfinite(done.volume_m3)
    state.period_m3[meters[known]] += done.volume_m3[known]
    state.period_known_h[meters[known]] += 1
    end_period = _period_of(step, done.end_s)
    over = end_period > state.period[meters]
    _close(step, meters[over], end_period[over])


def _close(step: Step, meters: IntArray, following: FloatArray) -> None:
    """Judge the open period against the usual (if enough of it is known), let it join the
    history, and open period `following`."""
    if not len(meters):
        return
    state, rules, out = step.state, step.rules, step.out
    period_s = rules.consumption_period_s
    volume, count = state.period_m3[meters], state.past_count[meters]
    judged = state.period_known_h[meters] >= PERIOD_KNOWN_SHARE * period_s / HOUR_S
    usual = state.past_m3[meters] / np.maximum(count, 1)
    high = judged & (count > 0) & (usual > 0) & (volume > rules.consumption_factor * usual)
    start_s = state.period[meters] * period_s - step.utc_offset_s
    end_s = start_s + period_s
    details = {"period_m3": volume, "usual_m3": usual, "history_periods": count}
    starts = high & ~state.high_active[meters]
    ends = judged & ~high & state.high_active[meters]
    pick = {key: value[starts] for key, value in details.items()}
    out.change("high_consumption", meters[starts], True, (start_s[starts], end_s[starts]), pick)
    pick = {key: value[ends] for key, value in details.items()}
    since = state.high_since_s[meters[ends]]
    out.change("high_consumption", meters[ends], False, (since, end_s[ends]), pick)
    state.high_active[meters[starts]] = True
    state.high_active[meters[ends]] = False
    state.high_since_s[meters[starts]] = start_s[starts]
    # Once the history is full, its sum decays by one period's share before the new one is
    # added: a running mean that approximates the sliding mean of the last history_periods
    # periods (three years of weeks) without keeping them.
    full = judged & (count >= rules.history_periods)
    keep = (rules.history_periods - 1) / rules.history_periods
    state.past_m3[meters[full]] = state.past_m3[meters[full]] * keep + volume[full]
    grows = judged & ~full
    state.past_m3[meters[grows]] += volume[grows]
    state.past_count[meters[grows]] += 1
    state.period[meters] = following
    state.period_m3[meters], state.period_known_h[meters] = 0.0, 0.0


def _silence(step: Step, span: HourSpan, skipped: BoolArray, walked: int) -> None:
    """What the skipped hours of a long silence (all unknown) still do: a night ending in
    them has no known hour (its night flow is unknown), and the period open when the walk
    stopped closes if the silence reached its end (a period wholly inside has no known hour:
    it is not judged, so nothing needs doing for it)."""
    if not skipped.any():
        return
    state, rules = step.state, step.rules
    meters = span.meters[skipped]
    first = span.first_hour[skipped] + walked
    count = span.crossed[skipped] - walked
    to_night_end = np.mod((rules.night_end_h - 1) % 24 - _local_hour(first, step.utc_offset_s), 24)
    state.night_m3h[meters[to_night_end < count]] = np.nan
    reached = _period_of(step, span.last_hour[skipped] * HOUR_S)
    over = reached > state.period[meters]
    _close(step, meters[over], reached[over])
