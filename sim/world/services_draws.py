"""Drawing a services district's bins and meters, and the month's events, from one stream
each (`sim.world.services_district` says what is drawn and why)."""

import datetime as dt
import math

import numpy as np

from sim.world.services import ServicesScenario
from sim.world.services_parts import (
    DAY_FILL,
    NIGHT_FILL,
    WEEKDAY_FILL,
    BinWorld,
    Calendar,
    FloatArray,
    MeterWorld,
)

_PATTERNS = {  # collection weekdays (Monday 0) by visits a week; no truck on Sundays
    1: ((0,), (1,), (2,), (3,), (4,), (5,)),
    2: ((0, 3), (1, 4), (2, 5)),
    3: ((0, 2, 4), (1, 3, 5)),
}
_LONGEST_GAP_D = {1: 7, 2: 4, 3: 3}  # days between visits, at most, by visits a week
_FIRST_TRUCK_H, _LAST_TRUCK_H = 6.0, 9.0


def draw_bins(
    scenario: ServicesScenario, calendar: Calendar, street: list[int], rng: np.random.Generator
) -> BinWorld:
    spec, count = scenario.bins, scenario.bins.count
    busy = np.array([spec.streets[s].busy for s in street], dtype=np.float64)
    daily = spec.fill_per_day * busy * rng.lognormal(0.0, 0.3, count)
    # The city's plan: the fewest visits a week (1 to 3) whose longest gap, a weekend in it,
    # would fill the bin to its planner's target; the fastest bins overflow even so.
    target = rng.uniform(0.8, 1.1, count)
    longest = np.array([_LONGEST_GAP_D[k] for k in (1, 2, 3)])
    enough = daily[:, None] * longest[None, :] * WEEKDAY_FILL[4:].mean() <= target[:, None]
    planned = np.where(enough.any(axis=1), np.argmax(enough, axis=1) + 1, 3)
    days = tuple(_PATTERNS[int(k)][rng.integers(len(_PATTERNS[int(k)]))] for k in planned)
    shape = WEEKDAY_FILL[calendar.weekday] * np.where(
        (calendar.local_hour >= 8) & (calendar.local_hour < 22), DAY_FILL, NIGHT_FILL
    )
    mean_shape = WEEKDAY_FILL.mean() * (14 * DAY_FILL + 10 * NIGHT_FILL) / 24.0
    spread = rng.lognormal(0.0, 0.25, (count, scenario.days))[:, calendar.day]
    rate = (daily / 24.0 / mean_shape)[:, None] * shape[None, :] * spread
    # The truck's round: a street's start hour, then its bins one after the other.
    street_h = rng.uniform(_FIRST_TRUCK_H, _LAST_TRUCK_H - 0.6, len(spec.streets))
    at = np.array(street, dtype=np.int64)
    on_street = np.bincount(at, minlength=len(spec.streets)).astype(np.float64)
    order = np.array([street[:i].count(s) for i, s in enumerate(street)], dtype=np.float64)
    truck_h = street_h[at] + 0.5 * order / np.maximum(on_street[at], 1.0)
    visits = [
        (b, d)
        for d in range(scenario.days)
        for b in range(count)
        if (scenario.start + dt.timedelta(days=d)).weekday() in days[b]
    ]
    visit_bin = np.array([b for b, _ in visits], dtype=np.int64)
    jitter_h = rng.normal(0.0, 0.15, len(visits))
    hour = np.clip(truck_h[visit_bin] + jitter_h, _FIRST_TRUCK_H, _LAST_TRUCK_H - 0.01)
    visit_s = np.round(
        calendar.six_am_s[np.array([d for _, d in visits], dtype=np.int64)]
        + (hour - _FIRST_TRUCK_H) * 3600.0
    )
    order_by_time = np.argsort(visit_s, kind="stable")
    missed = np.zeros(len(visits), dtype=bool)
    missed[rng.choice(len(visits), round(spec.missed_pickup_share * len(visits)), False)] = True
    phase = rng.integers(0, int(spec.report_period_s), count).astype(np.float64)
    return BinWorld(
        ids=tuple(f"bin-{n + 1:03d}" for n in range(count)),
        street=np.array(street, dtype=np.int64),
        phase_s=phase,
        period_s=spec.report_period_s,
        rate_per_h=rate,
        initial_fill=rng.uniform(0.0, 0.6, count),
        collection_days=days,
        visit_bin=visit_bin[order_by_time],
        visit_s=visit_s[order_by_time],
        visit_missed=missed[order_by_time],
        visit_residual=rng.uniform(0.0, 0.05, len(visits))[order_by_time],
        fires=_incidents(
            rng,
            spec.fires,
            count=count,
            phase_s=phase,
            calendar=calendar,
            period_s=spec.report_period_s,
            readings=(2, 3),
        ),
        tilts=_incidents(
            rng,
            spec.tilts,
            count=count,
            phase_s=phase,
            calendar=calendar,
            period_s=spec.report_period_s,
            readings=(2, 5),
        ),
        empty_mm=spec.empty_distance_mm,
        full_mm=spec.full_distance_mm,
        noise_mm=spec.noise_mm,
        full_at=spec.full_at,
    )


def _incidents(
    rng: np.random.Generator,
    how_many: int,
    *,
    count: int,
    phase_s: FloatArray,
    calendar: Calendar,
    period_s: float,
    readings: tuple[int, int],
) -> tuple[tuple[int, float, float], ...]:
    """Distinct bins with `readings` consecutive odd readings from a random one of theirs."""
    chosen = rng.choice(count, min(how_many, count), replace=False) if count else np.array([])
    found = []
    for b in sorted(int(i) for i in chosen):
        rounds = int((calendar.end_s - calendar.start_s - phase_s[b]) // period_s)
        n = int(rng.integers(readings[0], readings[1] + 1))
        latest = max(rounds - n, 0)  # the last odd reading still within the run
        first = int(rng.integers(min(int(86400 // period_s), latest), latest + 1))
        start_s = float(calendar.start_s + phase_s[b] + first * period_s)
        found.append((b, start_s, start_s + (n - 1) * period_s))
    return tuple(found)


def draw_meters(
    scenario: ServicesScenario, calendar: Calendar, rng: np.random.Generator
) -> MeterWorld:
    spec, count = scenario.meters, scenario.meters.count
    start_s, end_s = calendar.start_s, calendar.end_s
    shuffled = rng.permutation(count)
    business = np.zeros(count, dtype=bool)
    business[shuffled[: round(spec.business_share * count)]] = True
    continuous = np.zeros(count, dtype=bool)
    continuous[rng.choice(count, round(spec.continuous_share * count), replace=False)] = True
    free = [int(m) for m in rng.permutation(count) if not continuous[m]]
    leaking, free = free[: round(spec.leak_share * count)], free[round(spec.leak_share * count) :]
    quiet = [m for m in free if not business[m]]  # households without a leak: the incidents
    low, high = (np.log(v / 1000.0) for v in spec.leak_rate_l_h)
    leaks = []
    for m in sorted(leaking):
        begin = float(np.round(rng.uniform(start_s, max(end_s - 6 * 3600.0, start_s))))
        repaired = rng.random() < spec.leak_repaired_share
        end = begin + float(np.round(rng.uniform(1.0, 10.0) * 86400.0)) if repaired else math.inf
        rate = float(np.exp(rng.uniform(low, high)))
        leaks.append((m, begin, end if end < end_s else None, rate))
    burst_at, quiet = quiet[: spec.bursts], quiet[spec.bursts :]
    backflow_at, quiet = quiet[: spec.backflows], quiet[spec.backflows :]
    margin_s = min(86400.0, (end_s - start_s) / 4.0)  # away from the run's ends
    bursts = []
    for m in burst_at:
        begin = float(np.round(rng.uniform(start_s + margin_s, end_s - margin_s)))
        bursts.append((m, begin, begin + rng.uniform(2.0, 6.0) * 3600.0, rng.uniform(1.2, 2.0)))
    backflows = []
    for m in backflow_at:
        begin = float(np.round(rng.uniform(start_s + margin_s, end_s - margin_s)))
        backflows.append((m, begin, begin + 3600.0, rng.uniform(0.005, 0.02)))
    first_day_s = min(86400.0, end_s - start_s)
    stopped = [
        (m, start_s + float(np.round(rng.uniform(0.0, first_day_s)))) for m in quiet[: spec.stopped]
    ]
    q3 = np.where(business, spec.business_q3_m3h, spec.household_q3_m3h)
    return MeterWorld(
        ids=tuple(f"meter-{n + 1:03d}" for n in range(count)),
        phase_s=rng.integers(0, int(spec.report_period_s), count).astype(np.float64),
        period_s=spec.report_period_s,
        business=business,
        q3_m3h=q3.astype(np.float64),
        continuous_m3h=np.where(continuous, rng.uniform(0.03, 0.1, count), 0.0),
        # A business's uses are capped at twice the profile's: a bigger one would have a bigger
        # meter than DN20. A tap or a shower runs 4-8 L/min: one alone is no burst.
        use_scale=np.where(
            business,
            np.minimum(rng.lognormal(0, 0.5, count), 2.0),
            rng.lognormal(0, 0.35, count),
        ),
        tap_m3h=rng.uniform(0.25, 0.45, count),
        start_total_m3=np.round(rng.uniform(50.0, 3000.0, count), 3),
        leaks=tuple(leaks),
        bursts=tuple(bursts),
        backflows=tuple(backflows),
        stopped=tuple(stopped),
    )
