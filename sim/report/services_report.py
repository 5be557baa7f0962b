"""A services month's report: `summary.json`, one bin's and one meter's plot, `report.md`.

The plotted bin is the one that was truly full most often (a busy street's: its cycles,
forecasts against the true time to full and emptyings show best); the plotted meter is one
whose leak started and was repaired within the month (the alert's start and end both show),
else the first that truly leaked.
"""

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.devices.services import ServicesDevices
from sim.report.services import Detections
from sim.report.services_plots import plot_bin, plot_meter

# The targets, for the report's "met" column (sim/report/services.py defines each).
TARGETS: dict[str, tuple[str, float]] = {
    "leak_recall": (">=", 0.95),
    "leak_false_per_1000_meter_days": ("<=", 1.0),
    "emptying_recall": (">=", 0.99),
    "emptying_precision": (">=", 0.99),
}


@dataclass(frozen=True)
class ServicesPaths:
    summary_json: Path
    bin_png: Path
    meter_png: Path
    report_md: Path


def write_services_report(
    out_dir: Path, data: dict[str, Any], devices: ServicesDevices, detections: Detections
) -> ServicesPaths:
    """Write the month's files into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ServicesPaths(
        out_dir / "summary.json", out_dir / "bin.png", out_dir / "meter.png", out_dir / "report.md"
    )
    paths.summary_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    truth = devices.truth
    fulls = Counter(bin_id for bin_id, _ in truth.fulls)
    bin_id = fulls.most_common(1)[0][0] if fulls else truth.bin_ids[0]
    plot_bin(truth, detections, bin_id, paths.bin_png, devices.bin_fill_readings(bin_id))
    repaired = sorted((start, meter) for meter, start, end, _ in truth.leaks if end is not None)
    leaking = [meter for meter, *_ in truth.leaks]
    meter_id = repaired[0][1] if repaired else (leaking[0] if leaking else truth.meter_ids[0])
    plot_meter(truth, detections, meter_id, paths.meter_png)
    paths.report_md.write_text(markdown(data, paths), encoding="utf-8")
    return paths


def markdown(data: dict[str, Any], paths: ServicesPaths | None = None) -> str:
    """The scores as a table with the targets; the plots below."""
    lines = [
        f"# {data['scenario']}: {data['days']} days, {data['bins']} bins, {data['meters']} meters",
        "",
        f"Policy `{data['policy']}`, seed {data['seed']}: {data['messages']} messages "
        f"({data['rejected']} refused), {data['alerts_raised']} alerts raised; "
        f"{data['true_leaks']} true leaks, {data['true_emptyings']} true emptyings.",
        "",
        *score_table(data),
    ]
    if paths is not None:
        lines += ["", f"![a bin]({paths.bin_png.name})", "", f"![a meter]({paths.meter_png.name})"]
    return "\n".join(lines) + "\n"


def score_table(data: dict[str, Any]) -> list[str]:
    """| score | value | target | rows, for the report and the README."""
    rows = ["| score | value | target |", "|---|---:|---|"]
    for key in SCORES:
        value = data.get(key)
        rows.append(f"| `{key}` | {_shown(value)} | {_target(key, value)} |")
    return rows


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _target(key: str, value: object) -> str:
    """The target and whether it is met (✓ or ✗); empty for a score without one."""
    if key not in TARGETS:
        return ""
    sense, bound = TARGETS[key]
    met = isinstance(value, int | float) and _met(float(value), sense, bound)
    return f"{sense} {bound:g} {'✓' if met else '✗'}"


def _met(value: float, sense: str, bound: float) -> bool:
    return value >= bound if sense == ">=" else value <= bound


SCORES = (
    "leak_recall",
    "leak_false_per_1000_meter_days",
    "leak_detection_delay_h",
    "emptying_recall",
    "emptying_precision",
    "full_forecast_mae_h",
    "full_forecast_coverage",
    "collections_saved",
    "overflows_added",
    "burst_detected",
    "backflow_detected",
    "stopped_detected",
    "fire_detected",
    "missed_pickup_recall",
)
