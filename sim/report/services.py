"""Scoring the daemon's bin and water detections against the month's ground truth.

`score(truth, detections)` returns these numbers (NaN when there is nothing to measure them
on). Alerts are matched by kind (`ALERT_KINDS`) and device; only raised alerts (`active`) count
as alerts, their end (`active: false`) only closes their span.

- `leak_recall`: share of the *detectable* true leaks with a `water_leak` alert on their meter
  raised (`at_s`) while the leak ran or within 2 h after it ended. A leak is detectable when
  the rule can see it: it lasted at least 25 h within the month (the rule needs 24 h without a
  dry hour, and a first hour to start in), its rate is at least 1.2 × the rule's threshold
  (0.5 % of the meter's Q3: 12.5 L/h for a DN15 household meter, 20 L/h for a Q3 4 m³/h
  one), and its meter is not registered with legitimate continuous flow.
- `leak_detection_delay_h`: median, over the detected leaks, of the hours from the leak's
  true start to the first matching alert's `at_s` (about 24 h at best: the rule's window).
- `leak_false_per_1000_meter_days`: raised `water_leak` alerts whose span (from `since_s`, or
  `at_s` if earlier, to the alert's end, or the month's end if it never ended) overlaps no
  true leak of that meter (any size or duration, counted until 2 h after it ended), per 1000
  meter-days of the run.
- `emptying_recall`, `emptying_precision`: a detected emptying matches a true emptying of the
  same bin at most the bins' report period + 1 h away; each true emptying matches at most one
  detection and conversely (closest pairs first). Precision: matched detections / all
  detections. Recall: matched / true emptyings the sensor could show, those where the truck
  found the bin at least 0.3 full (a smaller drop hides in the rule's 0.25 `emptying_drop`
  and the noise; a detection matching one still counts for precision).
- `full_forecast_mae_h`: for each time a bin truly became full (its fill rose to `full_at`,
  once per fill cycle) at least 24 h into the month, the bin's forecast sampled 24 h before
  (the sample nearest to that instant, within ±30 min): the mean absolute error, in hours,
  of the forecast full time against the true one. `full_forecast_coverage`: the share of
  those times that had a (finite) forecast to score.
- `collections_saved`: the share of all scheduled visits the truck would skip if it emptied
  only the bins on the urgent list (full, or forecast full within the horizon) of the latest
  `due` sample at or before the visit (no older than 2 h; with no `due` samples at all, the
  list is made from the latest forecasts: forecast full within `horizon_s`). A visit with no
  list to go by is made. `overflows_added`: how many of those skipped visits would have let
  the bin reach 1.0 before its next scheduled visit (or the month's end), when in truth it did
  not (a truly missed pickup adds nothing: it was not emptied either way); each skip is
  judged alone, the other visits as they happened.
- `burst_detected`: share of true bursts with a `water_burst` alert on the meter raised from
  the burst's start to 1 h after its end. `backflow_detected`: the same with
  `water_backflow`, to 2 h after. `stopped_detected`: share of stopped meters with a
  `meter_stopped` alert raised after they stopped. `fire_detected`: share of bin fires with
  a `bin_fire` alert raised from the first hot reading to one report period + 1 h after the
  last. `missed_pickup_recall`: share of truly missed pickups with a `missed_pickup`
  alert on the bin raised within 48 h after the scheduled visit.
"""

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sim.devices.services import ServicesTruth
from sim.report.services_match import Span, due_lists, match_one_to_one, spans_of

ALERT_KINDS: Mapping[str, str] = {
    "leak": "water_leak",
    "burst": "water_burst",
    "backflow": "water_backflow",
    "stopped": "meter_stopped",
    "fire": "bin_fire",
    "missed_pickup": "missed_pickup",
}
LEAK_MIN_DURATION_S = 25 * 3600.0
LEAK_SENSITIVITY = 0.005  # of Q3: the rule's threshold (policy `water.leak_sensitivity`)
LEAK_MARGIN = 1.2
LEAK_GRACE_S = 2 * 3600.0
EMPTYING_MIN_DROP = 0.3
FORECAST_LEAD_S, FORECAST_TOLERANCE_S = 86400.0, 1800.0
MISSED_WINDOW_S = 48 * 3600.0


@dataclass
class Detections:
    """What the daemon made of the month."""

    alerts: list[tuple[str, str, float, float, bool]] = field(default_factory=list)
    """(kind, device_id, since_s, at_s, active) as the daemon raised and ended them"""
    emptyings: list[tuple[str, float]] = field(default_factory=list)  # (bin_id, at_s)
    forecasts: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """bin_id → [(t_s, forecast full time or NaN)], sampled hourly"""
    due: list[tuple[float, list[str]]] = field(default_factory=list)
    """(t_s, urgent bin ids), sampled at each scheduled truck time or hourly"""


def score(
    truth: ServicesTruth,
    detections: Detections,
    horizon_s: float = 86400.0,
    *,
    kinds: Mapping[str, str] = ALERT_KINDS,
) -> dict[str, float]:
    """The scores of the module's docstring, by name."""
    spans = spans_of(detections.alerts, truth.end_s)

    def of(kind: str) -> dict[str, list[Span]]:
        return spans.get(kinds[kind], {})

    out = _leaks(truth, of("leak"))
    out |= _emptyings(truth, detections.emptyings)
    out |= _forecasts(truth, detections.forecasts)
    out |= _collections(truth, detections, horizon_s)
    bursts = [(m, s, e + 3600.0) for m, s, e, _ in truth.bursts]
    out["burst_detected"] = _share_detected(bursts, of("burst"))
    backflows = [(m, s, e + 2 * 3600.0) for m, s, e, _ in truth.backflows]
    out["backflow_detected"] = _share_detected(backflows, of("backflow"))
    stopped = [(m, s, math.inf) for m, s in truth.stopped]
    out["stopped_detected"] = _share_detected(stopped, of("stopped"))
    late_s = truth.bin_period_s + 3600.0
    fires = [(b, s - 1.0, e + late_s) for b, s, e in truth.fires]
    out["fire_detected"] = _share_detected(fires, of("fire"))
    missed = [(b, s, s + MISSED_WINDOW_S) for b, s in truth.missed_pickups]
    out["missed_pickup_recall"] = _share_detected(missed, of("missed_pickup"))
    return out


def _first_raised(spans: list[Span], low_s: float, high_s: float) -> float | None:
    times = [s.at_s for s in spans if low_s <= s.at_s <= high_s]
    return min(times) if times else None


def _share_detected(wanted: list[tuple[str, float, float]], spans: dict[str, list[Span]]) -> float:
    """Share of (device, from, to) with an alert of that device raised within [from, to]."""
    if not wanted:
        return math.nan
    found = [_first_raised(spans.get(d, []), low, high) is not None for d, low, high in wanted]
    return sum(found) / len(found)


def _leaks(truth: ServicesTruth, spans: dict[str, list[Span]]) -> dict[str, float]:
    continuous = set(truth.continuous)
    delays, eligible = [], 0
    for meter, start_s, end_s, rate in truth.leaks:
        end = truth.end_s if end_s is None else min(end_s, truth.end_s)
        threshold = LEAK_MARGIN * LEAK_SENSITIVITY * truth.q3_m3h[meter]
        if meter in continuous or end - start_s < LEAK_MIN_DURATION_S or rate < threshold:
            continue
        eligible += 1
        at_s = _first_raised(spans.get(meter, []), start_s, end + LEAK_GRACE_S)
        if at_s is not None:
            delays.append((at_s - start_s) / 3600.0)
    windows = defaultdict(list)
    for meter, start_s, end_s, _ in truth.leaks:
        windows[meter].append((start_s, math.inf if end_s is None else end_s + LEAK_GRACE_S))
    false = sum(
        1
        for meter, raised in spans.items()
        for span in raised
        if not any(
            min(span.since_s, span.at_s) <= high and span.end_s >= low
            for low, high in windows[meter]
        )
    )
    return {
        "leak_recall": len(delays) / eligible if eligible else math.nan,
        "leak_false_per_1000_meter_days": (
            1000.0 * false / truth.meter_days if truth.meter_days else math.nan
        ),
        "leak_detection_delay_h": float(np.median(delays)) if delays else math.nan,
    }


def _emptyings(truth: ServicesTruth, detected: list[tuple[str, float]]) -> dict[str, float]:
    window_s = truth.bin_period_s + 3600.0
    matched_true, matched_detected = match_one_to_one(truth.emptyings, detected, window_s)
    visible = [i for i, drop in enumerate(truth.emptied_from) if drop >= EMPTYING_MIN_DROP]
    seen = sum(1 for i in visible if i in matched_true)
    return {
        "emptying_recall": seen / len(visible) if visible else math.nan,
        "emptying_precision": len(matched_detected) / len(detected) if detected else math.nan,
    }


def _forecasts(
    truth: ServicesTruth, forecasts: dict[str, list[tuple[float, float]]]
) -> dict[str, float]:
    series = {
        b: (np.array([t for t, _ in rows]), np.array([f for _, f in rows]))
        for b, rows in forecasts.items()
        if rows
    }
    errors_h, eligible = [], 0
    for bin_id, full_s in truth.fulls:
        sample_s = full_s - FORECAST_LEAD_S
        if sample_s < truth.start_s:
            continue
        eligible += 1
        if bin_id not in series:
            continue
        times, values = series[bin_id]
        nearest = int(np.argmin(np.abs(times - sample_s)))
        if abs(times[nearest] - sample_s) <= FORECAST_TOLERANCE_S and np.isfinite(values[nearest]):
            errors_h.append(abs(float(values[nearest]) - full_s) / 3600.0)
    return {
        "full_forecast_mae_h": float(np.mean(errors_h)) if errors_h else math.nan,
        "full_forecast_coverage": len(errors_h) / eligible if eligible else math.nan,
    }


def _collections(
    truth: ServicesTruth, detections: Detections, horizon_s: float
) -> dict[str, float]:
    if not truth.visits:
        return {"collections_saved": math.nan, "overflows_added": math.nan}
    times, lists = due_lists(detections.due, detections.forecasts, horizon_s)
    later: dict[str, list[float]] = defaultdict(list)
    for bin_id, at_s, _ in truth.visits:
        later[bin_id].append(at_s)
    skipped = added = 0
    for bin_id, at_s, _ in truth.visits:
        index = bisect_right(times, at_s) - 1
        if index < 0 or at_s - times[index] > 7200.0 or bin_id in lists[index]:
            continue
        skipped += 1
        mine = later[bin_id]
        following = [s for s in mine if s > at_s]
        until_s = following[0] if following else truth.end_s
        unemptied = truth.fill_before(bin_id, at_s) + truth.gain_between(bin_id, at_s, until_s)
        actual = truth.fill_before(bin_id, until_s)
        added += unemptied >= 1.0 and actual < 1.0
    return {"collections_saved": skipped / len(truth.visits), "overflows_added": float(added)}
