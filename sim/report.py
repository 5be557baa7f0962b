"""The demo's outputs: `summary.json` for machines, a PNG for people, lines for the terminal."""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from controllers.topology import FloatArray
from sim.metrics import Metrics, Series


@dataclass(frozen=True)
class Run:
    """Facts about a run that the metrics do not know."""

    site: str
    zone: ZoneInfo
    start_s: float
    end_s: float
    speed: float
    seed: int
    walkers: int
    commands: int
    rejected_commands: int
    sensor_messages: int
    dropped_messages: int


def summary(run: Run, metrics: Metrics) -> dict[str, Any]:
    """The summary as JSON-ready data; energies in kWh, shares as ratios 0..1."""
    return {
        "site": run.site,
        "night_start": _local_iso(run.start_s, run.zone),
        "night_end": _local_iso(run.end_s, run.zone),
        "speed": round(run.speed, 3),
        "seed": run.seed,
        "walkers": run.walkers,
        "commands": run.commands,
        "rejected_commands": run.rejected_commands,
        "sensor_messages": run.sensor_messages,
        "dropped_messages": run.dropped_messages,
        "energy_kwh": round(float(metrics.energy.energy_kwh.sum()), 4),
        "always_on_kwh": round(float(metrics.energy.always_on_kwh.sum()), 4),
        "saving_vs_always_on": round(metrics.energy.saving_vs_always_on, 4),
        "comfort": round(metrics.comfort, 4),
        "worst_dark_s": round(metrics.worst_dark_s, 1),
    }


@dataclass(frozen=True)
class ReportPaths:
    summary_json: Path
    plot_png: Path


def write_report(
    out_dir: Path,
    data: dict[str, Any],
    series: Series,
    segment_ids: tuple[str, ...],
    zone: ZoneInfo,
) -> ReportPaths:
    """Write `summary.json` and `night.png` into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "summary.json", out_dir / "night.png")
    paths.summary_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    plot_night(paths.plot_png, series, segment_ids, zone, title=f"{data['site']}")
    return paths


def plot_night(
    path: Path, series: Series, segment_ids: tuple[str, ...], zone: ZoneInfo, title: str
) -> None:
    """Top: level of every segment over the night, walkers as dots. Bottom: cumulative energy."""
    # Imported here: the daemon never loads matplotlib, and Agg draws without a display.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    hours = series.time_s / 3600.0  # x axis in epoch hours, labelled in local time below
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(12, 8), sharex=True, height_ratios=(3, 1), layout="constrained"
    )
    try:
        _plot_levels(figure, top, hours, series, segment_ids)
        top.set_title(f"{title}: lamp level by segment, walkers as dots")
        bottom.plot(hours, series.energy_kwh, label="adaptive (actual)", color="tab:orange")
        bottom.plot(hours, series.always_on_kwh, label="always-on baseline", color="tab:gray")
        bottom.set_ylabel("cumulative kWh")
        bottom.legend(loc="upper left")
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
    axes.scatter(
        hours[sample],
        segment,
        s=2 * series.walkers[sample, segment],
        color="tab:cyan",
        edgecolors="none",
        label="walkers",
    )
    axes.set_yticks(rows, segment_ids, fontsize=7)
    axes.set_ylim(-0.5, len(segment_ids) - 0.5)


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


class Written(Protocol):
    """A finished run: its summary and where its files went (`sim.demo.DemoResult` is one)."""

    @property
    def summary(self) -> dict[str, Any]: ...

    @property
    def summary_json(self) -> Path: ...

    @property
    def plot_png(self) -> Path: ...


def format_summary(result: Written) -> str:
    """The end-of-run lines for a person (no trailing newline)."""
    data = result.summary
    return "\n".join(
        [
            f"Night {data['night_start']} → {data['night_end']} at {data['site']} "
            f"(×{data['speed']:.0f} speed)",
            f"Energy {data['energy_kwh']:.2f} kWh vs {data['always_on_kwh']:.2f} kWh always-on: "
            f"{data['saving_vs_always_on']:.0%} saved",
            f"Comfort {data['comfort']:.1%} of walker time under full light "
            f"(longest dark stretch {data['worst_dark_s']:.0f} s)",
            f"{data['walkers']} walkers, {data['commands']} lamp commands",
            f"Written: {result.summary_json} and {result.plot_png}",
        ]
    )


def _local_iso(epoch_s: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch_s, zone).isoformat(timespec="seconds")
