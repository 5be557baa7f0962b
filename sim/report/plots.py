"""The report's pictures: a segment × time heat map of levels with the walkers drawn over it,
energy per hour against the baselines, and the comparison of several policies.

matplotlib is imported inside the functions: the daemon never loads it, and Agg draws
without a display.
"""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from controllers.topology import FloatArray
from sim.report.metrics import Series

BASELINES = (("always-on", 1, "tab:gray"), ("static", 2, "tab:blue"), ("oracle", 3, "tab:green"))


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def plot_night(
    path: Path,
    series: Series,
    segment_ids: tuple[str, ...],
    zone: ZoneInfo,
    title: str,
    *,
    hourly: dict[int, FloatArray] | None = None,
) -> None:
    """Top: level of every segment over the night, walkers as dots. Bottom: energy per hour
    against the baselines (or cumulative energy when no hourly accounts are given)."""
    plt = _pyplot()
    hours = series.time_s / 3600.0  # x axis in epoch hours, labelled in local time below
    rows = max(len(segment_ids), 1)
    figure, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(12, 5 + rows * 0.12),
        sharex=True,
        height_ratios=(3, 1),
        layout="constrained",
    )
    try:
        _plot_levels(figure, top, hours, series, segment_ids)
        top.set_title(f"{title}: lamp level by segment, walkers as dots")
        if hourly:
            _plot_hourly(bottom, hourly)
        else:
            bottom.plot(hours, series.energy_kwh, label="adaptive (actual)", color="tab:orange")
            bottom.plot(hours, series.always_on_kwh, label="always-on", color="tab:gray")
            bottom.set_ylabel("cumulative kWh")
        bottom.legend(loc="upper left", fontsize=8)
        bottom.set_xticks(*_hour_ticks(series.time_s, zone))
        bottom.set_xlabel(f"local time ({zone.key})")
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)


def _plot_levels(
    figure: Any, axes: Any, hours: FloatArray, series: Series, segment_ids: tuple[str, ...]
) -> None:
    rows = np.arange(len(segment_ids))
    if len(hours) >= 2:
        mesh = axes.pcolormesh(
            hours, rows, series.level.T, shading="nearest", cmap="inferno", vmin=0.0, vmax=1.0
        )
        figure.colorbar(mesh, ax=axes, label="level")
    sample, segment = np.nonzero(series.walkers)
    # Small translucent dots: on a busy night they must not hide the levels under them.
    axes.scatter(
        hours[sample],
        segment,
        s=0.6 * np.minimum(series.walkers[sample, segment], 5),
        color="tab:cyan",
        alpha=0.5,
        edgecolors="none",
        label="walkers",
    )
    size = 7 if len(segment_ids) <= 40 else 4
    axes.set_yticks(rows, segment_ids, fontsize=size)
    axes.set_ylim(-0.5, len(segment_ids) - 0.5)


def _plot_hourly(axes: Any, hourly: dict[int, FloatArray]) -> None:
    """Bars for the policy's kWh in each hour, steps for the baselines."""
    keys = sorted(hourly)
    centres = np.array(keys, dtype=np.float64) + 0.5
    values = np.array([hourly[k] for k in keys])
    axes.bar(centres, values[:, 0], width=0.8, color="tab:orange", label="policy")
    for name, column, colour in BASELINES:
        axes.step(centres, values[:, column], where="mid", color=colour, label=name)
    axes.set_ylabel("kWh per hour")


def _hour_ticks(time_s: FloatArray, zone: ZoneInfo) -> tuple[list[float], list[str]]:
    """Ticks on whole local hours (every other one over long spans), as epoch hours."""
    if len(time_s) == 0:
        return [], []
    first = datetime.fromtimestamp(float(time_s[0]), zone).replace(
        minute=0, second=0, microsecond=0
    )
    step_h = 1 if time_s[-1] - time_s[0] <= 8 * 3600 else 2
    positions, labels = [], []
    tick_s = first.timestamp()
    while tick_s <= time_s[-1]:
        if tick_s >= time_s[0]:
            positions.append(tick_s / 3600.0)
            labels.append(datetime.fromtimestamp(tick_s, zone).strftime("%H:%M"))
        tick_s += step_h * 3600
    return positions, labels


def plot_compare(path: Path, rows: Sequence[dict[str, Any]], title: str) -> None:
    """Energy of each policy against the baselines (bars), with its comfort written on it."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.5), layout="constrained")
    try:
        names = [str(r["policy"]) for r in rows]
        x = np.arange(len(rows))
        energy = [float(r["energy_kwh"]) for r in rows]
        axes.bar(x, energy, color="tab:orange", label="policy")
        baselines = (
            ("always-on", "always_on_kwh", "tab:gray"),
            ("static", "static_kwh", "tab:blue"),
            ("oracle", "oracle_kwh", "tab:green"),
        )
        for label, key, colour in baselines:
            axes.axhline(float(rows[0][key]), color=colour, linestyle="--", label=label)
        for i, row in enumerate(rows):  # inside the bar, clear of the baselines
            axes.annotate(
                f"comfort {row['comfort']:.2%}\n×{row['energy_vs_oracle']:.3f} oracle",
                (i, energy[i] / 2),
                ha="center",
                va="center",
                fontsize=8,
                color="white",
            )
        axes.set_xticks(x, names, rotation=15, fontsize=8)
        axes.set_ylabel("kWh over the night")
        axes.set_title(title)
        axes.legend(fontsize=8, loc="upper right")
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
