"""`sweep.png`: energy against comfort, one panel per scenario; every run a small dot, every
configuration (its seeds averaged) a circle, the Pareto front joined and labelled.

matplotlib is imported inside the function: the daemon never loads it, and Agg draws without
a display.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.report.sweep_table import Config, SweepRow, point_label

FRONT_COLOUR = "tab:orange"


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def plot_sweep(
    path: Path,
    rows: Sequence[SweepRow],
    found: Sequence[Config],
    front: Sequence[Config],
    keys: Sequence[str],
) -> None:
    """Draw the sweep into `path` (failed runs are left out; the title counts them)."""
    plt = _pyplot()
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    policies = len({r.policy for r in rows})
    figure, panels = plt.subplots(
        1, len(scenarios), figsize=(7.5 * len(scenarios), 5.5), layout="constrained", squeeze=False
    )
    try:
        for axes, scenario in zip(panels[0], scenarios, strict=True):
            _panel(axes, [r for r in rows if r.scenario == scenario], found, front, scenario)
            _label_front(axes, [c for c in front if c.scenario == scenario], keys, policies)
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)


def _panel(
    axes: Any,
    rows: Sequence[SweepRow],
    found: Sequence[Config],
    front: Sequence[Config],
    scenario: str,
) -> None:
    done = [r.summary for r in rows if r.summary is not None]
    axes.scatter(
        [s["energy_kwh"] for s in done],
        [100 * s["comfort"] for s in done],
        s=12,
        color="tab:gray",
        alpha=0.5,
        label="a run (one seed)",
    )
    mine = [c for c in found if c.scenario == scenario]
    axes.scatter(
        [c.energy_kwh for c in mine],
        [100 * c.comfort for c in mine],
        s=40,
        facecolors="none",
        edgecolors="tab:blue",
        label="a configuration (mean of its seeds)",
    )
    best = sorted((c for c in front if c.scenario == scenario), key=lambda c: c.energy_kwh)
    axes.plot(
        [c.energy_kwh for c in best],
        [100 * c.comfort for c in best],
        marker="o",
        color=FRONT_COLOUR,
        label="Pareto front (less energy, more comfort)",
    )
    failed = len(rows) - len(done)
    counted = f"{len(rows)} runs" + (f", {failed} failed (not drawn)" if failed else "")
    axes.set_title(f"{Path(scenario).stem}: {counted}", fontsize=10)
    axes.set_xlabel("energy over the night (kWh)")
    axes.set_ylabel("comfort (% of lit walker time at the required level)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")


def _label_front(axes: Any, front: Sequence[Config], keys: Sequence[str], policies: int) -> None:
    """Each front point's grid values, on a short line from the point: alternately above and
    below (neighbours on a front are close, and labels on one side would run into each other),
    to the left of the points in the right half so that no label runs off the panel."""
    ordered = sorted(front, key=lambda c: c.energy_kwh)
    if not ordered:
        return
    middle_kwh = (ordered[0].energy_kwh + ordered[-1].energy_kwh) / 2
    axes.margins(x=0.08, y=0.12)  # room for the labels of the first and last points
    for i, config in enumerate(ordered):
        right = config.energy_kwh > middle_kwh
        axes.annotate(
            point_label(config, keys, policies),
            (config.energy_kwh, 100 * config.comfort),
            xytext=(-14 if right else 14, 22 if i % 2 == 0 else -26),
            textcoords="offset points",
            ha="right" if right else "left",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "0.7"},
            arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.8},
        )
