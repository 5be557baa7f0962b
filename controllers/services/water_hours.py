"""Hourly volumes from a water meter's index: the ring of the last hours, and a reading's move
over the hour boundaries since the meter's previous one.

A meter reports when it likes (every quarter of an hour, every few hours, after a silence);
the rules want hours. The index is interpolated linearly at every whole UTC hour boundary
between two readings, and an hour's volume is the index at its end minus the index at its
start. Between two readings further apart than `max_gap_s` nobody knows how the water ran:
those hours are unknown (NaN), never guessed, and so is the start of the hour the new reading
falls in (unless the reading sits exactly on that hour's boundary). A new baseline (a NaN
volume: the first reading, a replaced meter) makes its hours unknown the same way.

Here the machinery only: the ring, a reading's move over the hour boundaries, one step's
state, rules and collected changes. The rules that run when an hour completes, and the walk
that runs them, are in water_hourly.py; the per-reading rules in water.py.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from controllers.services.changes import BoolArray, Change, Event, FloatArray, IntArray

if TYPE_CHECKING:
    from controllers.services.water_rules import WaterRules
    from controllers.services.water_state import WaterState

HOUR_S = 3600.0
# A period is judged, and joins the usual consumption, only when this share of its hours is
# known: a meter installed mid-week, or a week mostly silent, would otherwise enter the
# history at a fraction of its volume and make the next full week look high.
PERIOD_KNOWN_SHARE = 0.75
# Consumption periods are counted from Monday 1970-01-05 (the epoch began on a Thursday): a
# weekly period is a calendar week, Monday to Sunday, from local midnight.
PERIOD_ORIGIN_S = 4 * 86400.0


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
        if len(first) and np.all(first == first[0]):  # meters reporting in step: one window
            columns = np.mod(first[0] + np.arange(hours), self.hours).astype(np.int64)
            same: FloatArray = np.take(self.volume_m3, columns, axis=1)[meters]
            return same  # twice as fast as the 2-D gather below, for a whole fleet
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
