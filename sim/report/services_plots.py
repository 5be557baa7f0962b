"""Pictures of the services' month: one bin's fill with what the daemon saw of it, and one
meter's hourly flow with the leak it had and the leak the daemon raised.

matplotlib is imported inside the functions, as in `sim.report.plots`: the daemon never
loads it, and Agg draws without a display. Times are drawn in the site's local time.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sim.devices.services import ServicesTruth
from sim.report.services import ALERT_KINDS, LEAK_SENSITIVITY, Detections
from sim.report.services_match import spans_of
from sim.world.services_parts import FloatArray, Times


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _dates(times_s: Times) -> Any:
    return (np.asarray(times_s, dtype=np.float64) * 1e6).astype("datetime64[us]")


def _date_axis(axes: Any, truth: ServicesTruth) -> None:
    import matplotlib.dates  # noqa: PLC0415

    mdates: Any = matplotlib.dates  # its locators and formatters are not annotated

    zone = ZoneInfo(truth.timezone)
    axes.xaxis.set_major_locator(mdates.DayLocator(interval=2, tz=zone))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=zone))
    axes.set_xlim(_dates([truth.start_s, truth.end_s]))
    axes.set_xlabel(f"local date ({truth.timezone})")


def _true_fill_curve(truth: ServicesTruth, bin_id: str) -> tuple[FloatArray, FloatArray]:
    """Times and exact fill: hour edges, plus each emptying just before and at it."""
    hours = truth.fill.shape[1]
    edges = truth.start_s + 3600.0 * np.arange(hours)
    emptied = np.array([s for b, s in truth.emptyings if b == bin_id])
    times = np.sort(np.concatenate((edges, emptied - 1.0, emptied)))
    return times, truth.fill_at(bin_id, times)


def _true_hours_to_full(truth: ServicesTruth, bin_id: str, times_s: Times) -> FloatArray:
    """Hours from each of `times` to the bin's next true full, NaN if emptied before."""
    times = np.asarray(times_s, dtype=np.float64)
    fulls = np.sort(np.array([s for b, s in truth.fulls if b == bin_id] + [np.inf]))
    emptied = np.sort(np.array([s for b, s in truth.emptyings if b == bin_id] + [np.inf]))
    next_full = fulls[np.searchsorted(fulls, times, side="left")]
    next_empty = emptied[np.searchsorted(emptied, times, side="right")]
    return np.where(next_full < next_empty, (next_full - times) / 3600.0, np.nan)


def plot_bin(
    truth: ServicesTruth,
    detections: Detections,
    bin_id: str,
    path: Path,
    readings: Sequence[tuple[float, float]] | None = None,
) -> None:
    """Top: the bin's true fill, its readings' fill (`readings`: (ts, fill)), the truck's
    visits and the emptyings the daemon detected. Bottom: hours until full, forecast against
    true."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 6.5), sharex=True, height_ratios=(3, 2), layout="constrained"
    )
    try:
        times, fill = _true_fill_curve(truth, bin_id)
        top.plot(_dates(times), fill, color="tab:blue", linewidth=1.2, label="true fill")
        if readings:
            read = np.array(readings)
            top.scatter(_dates(read[:, 0]), read[:, 1], s=4, color="tab:gray", label="readings")
        top.axhline(truth.full_at, color="tab:red", linestyle="--", linewidth=0.8)
        top.annotate(
            "full",
            (_dates([truth.start_s])[0], truth.full_at),
            fontsize=8,
            color="tab:red",
            xytext=(2, 2),
            textcoords="offset points",
        )
        visits = [(s, ok) for b, s, ok in truth.visits if b == bin_id]
        made = [s for s, ok in visits if ok]
        missed = [s for s, ok in visits if not ok]
        top.scatter(
            _dates(made),
            [1.08] * len(made),
            marker="v",
            color="tab:green",
            label="truck emptied it",
        )
        if missed:
            top.scatter(
                _dates(missed),
                [1.08] * len(missed),
                marker="x",
                color="tab:red",
                s=50,
                label="missed pickup",
            )
        found = [s for b, s in detections.emptyings if b == bin_id]
        top.scatter(
            _dates(found),
            [1.16] * len(found),
            marker="^",
            color="tab:orange",
            label="emptying detected",
        )
        top.set_ylim(-0.05, 1.42)
        top.set_yticks(np.linspace(0.0, 1.0, 6))
        top.set_ylabel("fill (share of the depth)")
        top.set_title(f"{bin_id}: fill over the month, visits and detected emptyings")
        top.legend(loc="upper left", fontsize=8, ncols=5)
        _plot_forecast(bottom, truth, detections, bin_id)
        _date_axis(bottom, truth)
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)


def _plot_forecast(axes: Any, truth: ServicesTruth, detections: Detections, bin_id: str) -> None:
    rows = detections.forecasts.get(bin_id, [])
    hours = truth.start_s + 3600.0 * np.arange(truth.fill.shape[1])
    axes.plot(
        _dates(hours),
        _true_hours_to_full(truth, bin_id, hours),
        color="tab:blue",
        linewidth=1.2,
        label="true time to full",
    )
    if rows:
        sample = np.array(rows, dtype=np.float64)
        lead_h = (sample[:, 1] - sample[:, 0]) / 3600.0
        axes.scatter(
            _dates(sample[:, 0]), lead_h, s=4, color="tab:orange", label="forecast time to full"
        )
    axes.axhline(0.0, color="black", linewidth=0.5)
    axes.set_ylim(-24.0, 168.0)  # a week ahead at most: further forecasts are off the chart
    axes.set_ylabel("hours until full")
    axes.legend(loc="upper left", fontsize=8)


def plot_meter(
    truth: ServicesTruth,
    detections: Detections,
    meter_id: str,
    path: Path,
    kind: str = ALERT_KINDS["leak"],
) -> None:
    """Top: the meter's hourly flow, its true leaks (shaded red) and the daemon's leak alerts
    (shaded blue). Bottom: the lowest hourly flow of the last 24 h, against the rule's
    threshold: a leak is a day without a dry hour."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 6.5), sharex=True, height_ratios=(3, 2), layout="constrained"
    )
    try:
        m = truth.meter_ids.index(meter_id)
        flow_l_h = truth.meter_volume[m].astype(np.float64) * 1000.0
        edges = truth.start_s + 3600.0 * np.arange(len(flow_l_h) + 1)
        threshold = LEAK_SENSITIVITY * truth.q3_m3h[meter_id] * 1000.0
        top.stairs(flow_l_h, _dates(edges), color="tab:blue", linewidth=0.8, label="hourly flow")
        for axes in (top, bottom):
            _leak_spans(axes, truth, detections, meter_id, kind, labelled=axes is top)
        top.set_ylim(0.0, max(float(np.percentile(flow_l_h, 99.5)) * 1.2, threshold * 3))
        top.set_ylabel("flow (L/h)")
        rates = [r * 1000.0 for leak_meter, _, _, r in truth.leaks if leak_meter == meter_id]
        leak = ", ".join(f"{r:.0f} L/h" for r in rates) or "none"
        top.set_title(
            f"{meter_id} (Q3 {truth.q3_m3h[meter_id]:g} m³/h): hourly flow; true leak {leak}"
        )
        top.legend(loc="upper left", fontsize=8, ncols=3)
        day_min = np.array([flow_l_h[max(0, h - 23) : h + 1].min() for h in range(len(flow_l_h))])
        bottom.stairs(
            day_min,
            _dates(edges),
            color="tab:purple",
            linewidth=1.0,
            label="lowest hourly flow of the last 24 h",
        )
        bottom.axhline(
            threshold,
            color="tab:red",
            linestyle="--",
            linewidth=0.8,
            label=f"rule threshold, 0.5 % of Q3 ({threshold:g} L/h)",
        )
        bottom.set_ylim(0.0, max(float(day_min.max()) * 1.2, threshold * 3))
        bottom.set_ylabel("flow (L/h)")
        bottom.legend(loc="upper left", fontsize=8)
        _date_axis(bottom, truth)
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)


def _leak_spans(
    axes: Any,
    truth: ServicesTruth,
    detections: Detections,
    meter_id: str,
    kind: str,
    *,
    labelled: bool,
) -> None:
    """The meter's true leaks (shaded) and the daemon's alerts (a band along the top)."""
    for leak_meter, start_s, end_s, _ in truth.leaks:
        if leak_meter == meter_id:
            end = truth.end_s if end_s is None else end_s
            label = "true leak" if labelled else None
            axes.axvspan(*_dates([start_s, end]), color="tab:red", alpha=0.12, label=label)
    for span in spans_of(detections.alerts, truth.end_s).get(kind, {}).get(meter_id, []):
        label = "leak alert (daemon), raised to ended" if labelled else None
        axes.axvspan(
            *_dates([span.at_s, span.end_s]),
            ymin=0.92,
            color="tab:cyan",
            alpha=0.7,
            label=label,
        )
