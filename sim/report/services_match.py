"""Matching helpers of the services' scoring (`sim.report.services`): alert spans, one-to-one
matching of events in time, and the collection lists to judge skipped visits by."""

import math
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A raised alert: since when the condition held, when it was raised, when it ended
    (the run's end if it never did)."""

    since_s: float
    at_s: float
    end_s: float


def spans_of(
    alerts: list[tuple[str, str, float, float, bool]], end_s: float
) -> dict[str, dict[str, list[Span]]]:
    """kind → device → its raised alerts, each closed by the first end of the same kind and
    device at or after it was raised (one with the same `since_s` first)."""
    ends: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for kind, device, since_s, at_s, active in alerts:
        if not active:
            ends[(kind, device)].append((at_s, since_s))
    for found in ends.values():
        found.sort()
    out: dict[str, dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
    raised = sorted((a for a in alerts if a[4]), key=lambda a: (a[3], a[0], a[1]))
    for kind, device, since_s, at_s, _ in raised:
        left = ends[(kind, device)]
        later = [i for i, (end, _) in enumerate(left) if end >= at_s]
        same = [i for i in later if left[i][1] == since_s]
        pick = same[0] if same else (later[0] if later else None)
        closed_s = end_s if pick is None else left.pop(pick)[0]
        out[kind][device].append(Span(since_s, at_s, closed_s))
    return out


def match_one_to_one(
    truth: list[tuple[str, float]], detected: list[tuple[str, float]], window_s: float
) -> tuple[set[int], set[int]]:
    """Indices of the true and of the detected (device, time) events matched one to one:
    same device, at most `window_s` apart, closest pairs first."""
    by_device: dict[str, list[int]] = defaultdict(list)
    for j, (device, _) in enumerate(detected):
        by_device[device].append(j)
    pairs = []
    for i, (device, true_s) in enumerate(truth):
        for j in by_device.get(device, []):
            gap = abs(detected[j][1] - true_s)
            if gap <= window_s:
                pairs.append((gap, i, j))
    matched_true: set[int] = set()
    matched_detected: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in matched_true and j not in matched_detected:
            matched_true.add(i)
            matched_detected.add(j)
    return matched_true, matched_detected


def due_lists(
    due: list[tuple[float, list[str]]],
    forecasts: dict[str, list[tuple[float, float]]],
    horizon_s: float,
) -> tuple[list[float], list[set[str]]]:
    """The urgent lists by time, sorted: the `due` samples, or, with none, the bins whose
    forecast sampled at that time falls within `horizon_s`."""
    if due:
        ordered = sorted(due, key=lambda row: row[0])
        return [t for t, _ in ordered], [set(ids) for _, ids in ordered]
    lists: dict[float, set[str]] = {}
    for bin_id, rows in forecasts.items():
        for t_s, full_s in rows:
            urgent = lists.setdefault(t_s, set())
            if not math.isnan(full_s) and full_s <= t_s + horizon_s:
                urgent.add(bin_id)
    times = sorted(lists)
    return times, [lists[t] for t in times]
