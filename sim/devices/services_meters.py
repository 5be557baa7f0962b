"""Water meters over the month, as arrays: what passed through each meter between two reports,
the index it shows and the flow it reports.

Water is used in discrete uses (a flush, a shower, a washing machine): a Poisson number per
report interval at the day profile's rate for that local hour, each of a gamma volume. So a
household without a leak has dry hours, most of all at night, and a business is dry at night
and on weekends. On top: a constant legitimate flow (the continuous meters), leaks and bursts
(their exact overlap with each interval), a backflow that runs the index back, and a stopped
meter that registers nothing from its moment on. The index shows whole litres (resolution
0.001 m³, rounded down as a register does); the flow is the instantaneous one at the report:
what runs then (a tap with the probability its interval's volume implies), rounded to 1 L/h.
"""

from dataclasses import dataclass

import numpy as np

from sim.world.services_district import ServicesWorld
from sim.world.services_parts import BoolArray, Float32Array, FloatArray, IntArray, Times

# Uses per hour by local hour: a household (mornings and evenings, nearly none at night) and a
# business on a weekday (office hours only; nothing on weekends).
HOUSEHOLD_USES = np.array(
    [0.4, 0.1, 0.05, 0.05, 0.05, 0.3, 1.5, 2.5, 2.0, 1.2, 1.0, 1.0,
     1.2, 1.0, 0.8, 0.8, 1.0, 1.4, 1.8, 2.2, 2.0, 1.5, 1.0, 0.6]
)  # fmt: skip
BUSINESS_USES = np.array([0.0] * 7 + [2, 6, 8, 8, 8, 7, 6, 8, 8, 7, 5, 2] + [0.0] * 5)
_USE_SHAPE = 1.2  # gamma shape of one use's volume
_HOUSEHOLD_USE_M3, _BUSINESS_USE_M3 = 0.012, 0.020  # mean volume of one use


@dataclass(frozen=True, eq=False)
class MeterReadings:
    """[meters, rounds] arrays; `valid` is False past the run's end."""

    times_s: FloatArray
    valid: BoolArray
    litres: IntArray  # the index, in whole litres
    flow_m3h: FloatArray
    backflow: BoolArray  # the meter flags a backflow in that report
    total_m3: FloatArray  # the true (unrounded) index, for the hourly truth


def meter_readings(world: ServicesWorld, rng: np.random.Generator) -> MeterReadings:
    meters, calendar = world.meters, world.calendar
    period_s = meters.period_s
    period_h = period_s / 3600.0
    rounds = int(np.ceil((calendar.end_s - calendar.start_s) / period_s))
    times = calendar.start_s + meters.phase_s[:, None] + period_s * np.arange(rounds)[None, :]
    begin = times - period_s
    hour = calendar.hour_of(times - period_s / 2.0)
    local_hour, weekday = calendar.local_hour[hour], calendar.weekday[hour]
    business = meters.business[:, None]
    uses = np.where(business, BUSINESS_USES[local_hour] * (weekday < 5), HOUSEHOLD_USES[local_hour])
    count = rng.poisson(uses * meters.use_scale[:, None] * period_h)
    mean_m3 = np.where(business, _BUSINESS_USE_M3, _HOUSEHOLD_USE_M3)
    volume = rng.gamma(np.maximum(count * _USE_SHAPE, 1e-9), mean_m3 / _USE_SHAPE) * (count > 0)
    share = volume / (meters.tap_m3h[:, None] * period_h)  # of the interval a tap ran
    running = rng.random(times.shape) < share
    flow = np.where(
        running, np.where(share >= 1.0, volume / period_h, meters.tap_m3h[:, None]), 0.0
    )
    volume += meters.continuous_m3h[:, None] * period_h
    flow += meters.continuous_m3h[:, None]
    for m, start_s, end_s, rate in [*meters.leaks, *meters.bursts]:
        end = np.inf if end_s is None else end_s
        volume[m] += rate * _overlap_h(begin[m], times[m], start_s, end)
        flow[m] += rate * ((times[m] >= start_s) & (times[m] < end))
    backflow = np.zeros(times.shape, dtype=bool)
    for m, start_s, end_s, run_back_m3 in meters.backflows:
        during = (begin[m] < end_s) & (times[m] > start_s)
        volume[m, during], flow[m, during] = 0.0, 0.0
        volume[m] -= run_back_m3 * _overlap_h(begin[m], times[m], start_s, end_s)
        backflow[m] = during
    for m, from_s in meters.stopped:
        volume[m] *= np.clip((from_s - begin[m]) / period_s, 0.0, 1.0)
        flow[m] *= times[m] < from_s
    total = meters.start_total_m3[:, None] + np.cumsum(volume, axis=1)
    litres = np.floor(total * 1000.0 + 1e-6).astype(np.int64)
    return MeterReadings(
        times, times < calendar.end_s, litres, np.round(flow, 3).astype(np.float64), backflow, total
    )


def _overlap_h(begin: Times, end: Times, start_s: float, end_s: float) -> FloatArray:
    """Hours of each interval (begin, end] within [start_s, end_s)."""
    overlap = np.minimum(np.asarray(end, dtype=np.float64), end_s) - np.maximum(begin, start_s)
    return np.asarray(np.clip(overlap, 0.0, None) / 3600.0, dtype=np.float64)


def hourly_volume(world: ServicesWorld, readings: MeterReadings) -> Float32Array:
    """[meters, hours] m³ the index advanced in each hour of the run (float32), read off the
    true index between reports (linear within a report interval)."""
    calendar, meters = world.calendar, world.meters
    edges = calendar.start_s + 3600.0 * np.arange(calendar.hours + 1)
    out = np.zeros((len(meters.ids), calendar.hours), dtype=np.float32)
    for m in range(len(meters.ids)):
        times = np.concatenate(([readings.times_s[m, 0] - meters.period_s], readings.times_s[m]))
        total = np.concatenate(([meters.start_total_m3[m]], readings.total_m3[m]))
        out[m] = np.diff(np.interp(edges, times, total))
    return out
