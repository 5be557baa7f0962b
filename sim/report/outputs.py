"""A night's outputs: `summary.json` for machines, PNG plots and `report.md` for people, lines
for the terminal, and the table of `luciole sim compare`."""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from controllers.topology import FloatArray
from sim.report.metrics import Metrics, Series
from sim.report.plots import plot_night


@dataclass(frozen=True)
class Run:
    """Facts about a live run that the metrics do not know."""

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


def accounts(metrics: Metrics) -> dict[str, Any]:
    """Energies (kWh) against the baselines, comfort and darkness, as JSON-ready numbers."""
    energy = float(metrics.energy.energy_kwh.sum())
    always_on = float(metrics.energy.always_on_kwh.sum())
    static = float(metrics.static.energy_kwh.sum())
    oracle = float(metrics.oracle.energy_kwh.sum())
    return {
        "energy_kwh": round(energy, 4),
        "always_on_kwh": round(always_on, 4),
        "static_kwh": round(static, 4),
        "oracle_kwh": round(oracle, 4),
        "saving_vs_always_on": round(1 - energy / always_on, 4) if always_on else 0.0,
        "saving_vs_static": round(1 - energy / static, 4) if static else 0.0,
        "energy_vs_oracle": round(energy / oracle, 4) if oracle else 0.0,
        "comfort": round(metrics.comfort, 5),
        "worst_dark_s": round(metrics.worst_dark_s, 1),
        "walker_h": round(metrics.walker_s / 3600, 2),
        "excess_kwh": {k: round(v, 4) for k, v in sorted(metrics.excess_kwh.items()) if v > 0},
    }


def summary(run: Run, metrics: Metrics) -> dict[str, Any]:
    """The summary of a live run (the demo)."""
    return {
        "site": run.site,
        "night_start": local_iso(run.start_s, run.zone),
        "night_end": local_iso(run.end_s, run.zone),
        "speed": round(run.speed, 3),
        "seed": run.seed,
        "walkers": run.walkers,
        "commands": run.commands,
        "rejected_commands": run.rejected_commands,
        "sensor_messages": run.sensor_messages,
        "dropped_messages": run.dropped_messages,
        **accounts(metrics),
    }


@dataclass(frozen=True)
class ReportPaths:
    summary_json: Path
    plot_png: Path
    report_md: Path


def write_report(
    out_dir: Path,
    data: dict[str, Any],
    series: Series,
    segment_ids: tuple[str, ...],
    zone: ZoneInfo,
    *,
    hourly: dict[int, FloatArray] | None = None,
) -> ReportPaths:
    """Write `summary.json`, `night.png` and `report.md` into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "summary.json", out_dir / "night.png", out_dir / "report.md")
    paths.summary_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    title = str(data.get("scenario", data["site"]))
    plot_night(paths.plot_png, series, segment_ids, zone, title, hourly=hourly)
    paths.report_md.write_text(markdown(data), encoding="utf-8")
    return paths


def markdown(data: dict[str, Any]) -> str:
    """A short report: the night, the table against the baselines, where the excess went."""
    lines = [
        f"# {data.get('scenario', data['site'])}: {data['night_start']} → {data['night_end']}",
        "",
        f"Policy `{data.get('policy', '?')}`, seed {data.get('seed')}: {data['walkers']} walkers,"
        f" {data['commands']} lamp commands, {data.get('sensor_messages', 0)} sensor messages.",
        "",
        "| | kWh | policy ÷ this |",
        "|---|---:|---:|",
        f"| policy | {data['energy_kwh']:.2f} | |",
    ]
    for name, key in (
        ("always-on", "always_on_kwh"),
        ("static (rated class all night)", "static_kwh"),
        ("oracle", "oracle_kwh"),
    ):
        ratio = data["energy_kwh"] / data[key] if data[key] else 0.0
        lines.append(f"| {name} | {data[key]:.2f} | ×{ratio:.3f} |")
    lines += [
        "",
        f"Comfort {data['comfort']:.2%} of lit walker time at the required level; longest "
        f"under-lit stretch {data['worst_dark_s']:.0f} s.",
        "",
        "Energy above the oracle, by the rule that set the level:",
        "",
        "| rule, segment | kWh |",
        "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in data.get("excess_kwh", {}).items()],
        "",
        "![levels and energy](night.png)",
        "",
    ]
    return "\n".join(lines)


COMPARE_COLUMNS = (
    ("policy", "policy", "{}"),
    ("kWh", "energy_kwh", "{:.2f}"),
    ("saved vs always-on", "saving_vs_always_on", "{:.1%}"),
    ("vs oracle", "energy_vs_oracle", "×{:.3f}"),
    ("comfort", "comfort", "{:.2%}"),
    ("worst dark s", "worst_dark_s", "{:.0f}"),
    ("commands", "commands", "{}"),
)


def compare_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of several runs, one row per policy."""
    head = "| " + " | ".join(c[0] for c in COMPARE_COLUMNS) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(COMPARE_COLUMNS))) + "|"
    body = [
        "| " + " | ".join(fmt.format(row[key]) for _, key, fmt in COMPARE_COLUMNS) + " |"
        for row in rows
    ]
    return "\n".join([head, rule, *body])


class Written(Protocol):
    """A finished run: its summary and where its files went (`sim.runs.demo.DemoResult` is one)."""

    @property
    def summary(self) -> dict[str, Any]: ...

    @property
    def summary_json(self) -> Path: ...

    @property
    def plot_png(self) -> Path: ...


def format_summary(result: Written) -> str:
    """The end-of-run lines for a person (no trailing newline)."""
    data = result.summary
    speed = f" (×{data['speed']:.0f} speed)" if "speed" in data else ""
    return "\n".join(
        [
            f"Night {data['night_start']} → {data['night_end']} at {data['site']}{speed}",
            f"Energy {data['energy_kwh']:.2f} kWh vs {data['always_on_kwh']:.2f} kWh always-on: "
            f"{data['saving_vs_always_on']:.0%} saved (×{data['energy_vs_oracle']:.2f} oracle)",
            f"Comfort {data['comfort']:.1%} of walker time at the required level "
            f"(longest dark stretch {data['worst_dark_s']:.0f} s)",
            f"{data['walkers']} walkers, {data['commands']} lamp commands",
            f"Written: {result.summary_json} and {result.plot_png}",
        ]
    )


def local_iso(epoch_s: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch_s, zone).isoformat(timespec="seconds")
