"""A sweep's results: one row per run, `sweep.csv` and `sweep.json`, the configurations (a
policy file and a grid point, over its seeds) and their Pareto front of energy and comfort.

The front is taken over configurations, not single runs: a seed changes the walkers, and so
the night's energy, by about as much as a grid step does, so the seeds of one configuration are
averaged before comparing it with the others. Each scenario has its own front (its kWh are
not comparable with another street's).
"""

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The summary's figures copied into sweep.csv, in this order (see sim.report.outputs.accounts).
FIGURES = (
    "energy_kwh",
    "always_on_kwh",
    "static_kwh",
    "oracle_kwh",
    "energy_vs_oracle",
    "saving_vs_always_on",
    "saving_vs_static",
    "comfort",
    "worst_dark_s",
    "walkers",
    "walker_h",
    "commands",
    "sensor_messages",
)


@dataclass(frozen=True)
class SweepRow:
    """One run: what it was (scenario, policy, grid point, seed) and its summary or error."""

    index: int
    scenario: str
    policy: str
    grid: tuple[tuple[str, str], ...]
    seed: int
    summary: dict[str, Any] | None
    error: str | None = None
    run_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.summary is not None


@dataclass(frozen=True)
class Config:
    """A policy file and a grid point on one scenario, its figures averaged over its seeds."""

    scenario: str
    policy: str
    grid: tuple[tuple[str, str], ...]
    seeds: int
    energy_kwh: float
    comfort: float
    energy_vs_oracle: float
    saving_vs_always_on: float
    worst_dark_s: float  # the worst over its seeds, not the mean: a dark stretch is a fact


def write_csv(path: Path, rows: Sequence[SweepRow], keys: Sequence[str]) -> None:
    """One line per run, in plan order; a failed run has its error and empty figures."""
    head = ["scenario", "policy", "seed", *keys, "status", "error", *FIGURES, "run_s"]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(head)
        for row in sorted(rows, key=lambda r: r.index):
            grid = dict(row.grid)
            figures = [row.summary.get(f, "") if row.summary else "" for f in FIGURES]
            what = [row.scenario, row.policy, row.seed, *(grid.get(k, "") for k in keys)]
            status = ["ok" if row.ok else "failed", row.error or ""]
            writer.writerow([*what, *status, *figures, round(row.run_s, 2)])


def write_json(path: Path, rows: Sequence[SweepRow], front: Sequence[Config]) -> None:
    """Every run's full summary (or error), and the Pareto front: for machines."""
    data = {
        "runs": [_row_data(r) for r in sorted(rows, key=lambda r: r.index)],
        "pareto": [_config_data(c) for c in front],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _row_data(row: SweepRow) -> dict[str, Any]:
    return {
        "scenario": row.scenario,
        "policy": row.policy,
        "grid": dict(row.grid),
        "seed": row.seed,
        "status": "ok" if row.ok else "failed",
        "error": row.error,
        "run_s": round(row.run_s, 2),
        "summary": row.summary,
    }


def _config_data(config: Config) -> dict[str, Any]:
    return {
        "scenario": config.scenario,
        "policy": config.policy,
        "grid": dict(config.grid),
        "seeds": config.seeds,
        "energy_kwh": config.energy_kwh,
        "comfort": config.comfort,
        "energy_vs_oracle": config.energy_vs_oracle,
    }


def configs(rows: Sequence[SweepRow]) -> list[Config]:
    """The successful runs grouped by (scenario, policy, grid point), in plan order."""
    groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r.index):
        if row.summary is not None:
            groups.setdefault((row.scenario, row.policy, row.grid), []).append(row.summary)
    return [_config(*key, summaries) for key, summaries in groups.items()]


def _config(
    scenario: str, policy: str, grid: tuple[tuple[str, str], ...], runs: list[dict[str, Any]]
) -> Config:
    def mean(key: str) -> float:
        return sum(float(r[key]) for r in runs) / len(runs)

    return Config(
        scenario,
        policy,
        grid,
        len(runs),
        round(mean("energy_kwh"), 4),
        round(mean("comfort"), 5),
        round(mean("energy_vs_oracle"), 4),
        round(mean("saving_vs_always_on"), 4),
        max(float(r["worst_dark_s"]) for r in runs),
    )


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (energy, comfort) points no other point beats, by rising energy.

    A point is beaten when another uses no more energy and gives at least as much comfort,
    and is better in one of them; equal points are both kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_comfort = float("-inf")
    for i in order:
        energy, comfort = points[i]
        if comfort > best_comfort or (front and points[front[-1]] == (energy, comfort)):
            front.append(i)
            best_comfort = max(best_comfort, comfort)
    return front


def fronts(found: Sequence[Config]) -> list[Config]:
    """Each scenario's Pareto front, scenario by scenario in plan order."""
    front: list[Config] = []
    for scenario in dict.fromkeys(c.scenario for c in found):
        mine = [c for c in found if c.scenario == scenario]
        front += [mine[i] for i in pareto_front([(c.energy_kwh, c.comfort) for c in mine])]
    return front


def point_label(config: Config, keys: Sequence[str], policies: int) -> str:
    """`hold_s=40s lead_s=5s` (with the policy file's stem when several were swept)."""
    short = {k: k.rsplit(".", 1)[-1] for k in keys}
    if len(set(short.values())) < len(short):
        short = {k: k for k in keys}  # two keys end alike: only the full paths tell them apart
    text = " ".join(f"{short.get(k, k)}={v}" for k, v in config.grid)
    return f"{Path(config.policy).stem} {text}".strip() if policies > 1 else text or "as is"


def front_table(front: Sequence[Config], keys: Sequence[str], policies: int) -> str:
    """The Pareto front as a Markdown table, for the terminal."""
    head = "| scenario | configuration | seeds | kWh | vs oracle | saved vs always-on | comfort "
    head += "| worst dark s |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    body = [
        f"| {Path(c.scenario).stem} | {point_label(c, keys, policies)} | {c.seeds} | "
        f"{c.energy_kwh:.2f} | ×{c.energy_vs_oracle:.3f} | {c.saving_vs_always_on:.1%} | "
        f"{c.comfort:.2%} | {c.worst_dark_s:.0f} |"
        for c in front
    ]
    return "\n".join([head, rule, *body])
