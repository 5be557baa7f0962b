"""The report: summary.json with the promised keys, a real PNG, and readable lines."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from controllers.schedule import AstronomicalClock
from controllers.settings import Policy, SiteConfig
from controllers.topology import Topology
from sim.report.metrics import Metrics
from sim.report.outputs import Run, format_summary, summary, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEYS = {
    "site",
    "night_start",
    "night_end",
    "speed",
    "walkers",
    "commands",
    "energy_kwh",
    "always_on_kwh",
    "saving_vs_always_on",
    "comfort",
    "worst_dark_s",
}


@dataclass(frozen=True)
class _Result:
    summary: dict[str, Any]
    summary_json: Path
    plot_png: Path


def _night(site: SiteConfig, topology: Topology, start_s: float) -> tuple[Run, Metrics]:
    info = site.site
    astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
    metrics = Metrics(topology, Policy(), astro, window_s=3600.0, max_samples=100)
    rng = np.random.default_rng(0)
    for i in range(360):
        level = rng.uniform(0.1, 1.0, topology.size)
        walker_ids = np.arange(i // 10, i // 10 + 3, dtype=np.int64)
        metrics.add(start_s + 10 * i, 10.0, level, walker_ids, walker_ids % topology.size)
    run = Run(
        site=info.id,
        zone=ZoneInfo(info.timezone),
        start_s=start_s,
        end_s=start_s + 3600,
        speed=60.0,
        seed=0,
        walkers=38,
        commands=123,
        rejected_commands=0,
        sensor_messages=200,
        dropped_messages=0,
    )
    return run, metrics


def test_report_writes_summary_and_png(
    tmp_path: Path, tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """summary.json holds every promised key as JSON and the plot is a PNG file."""
    run, metrics = _night(tiny_site, tiny_topology, midnight_s)
    data = summary(run, metrics)
    paths = write_report(tmp_path / "out", data, metrics.series(), tiny_topology.ids, run.zone)
    written = json.loads(paths.summary_json.read_text())
    assert written.keys() >= KEYS
    assert written["night_start"] == "2025-01-16T00:00:00+01:00"
    assert 0.0 <= written["comfort"] <= 1.0
    assert written["energy_kwh"] < written["always_on_kwh"]
    assert paths.plot_png.read_bytes()[:8] == PNG_MAGIC


def test_report_survives_an_empty_night(
    tmp_path: Path, tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """With no samples at all (a run stopped at once) the files are still written."""
    info = tiny_site.site
    astro = AstronomicalClock(info.latitude, info.longitude, info.timezone)
    metrics = Metrics(tiny_topology, Policy(), astro, window_s=3600.0)
    run, _ = _night(tiny_site, tiny_topology, midnight_s)
    paths = write_report(
        tmp_path, summary(run, metrics), metrics.series(), tiny_topology.ids, run.zone
    )
    assert paths.plot_png.read_bytes()[:8] == PNG_MAGIC


def test_format_summary_says_what_matters(
    tmp_path: Path, tiny_site: SiteConfig, tiny_topology: Topology, midnight_s: float
) -> None:
    """The lines give energy against always-on with the saving, comfort, counts and files."""
    run, metrics = _night(tiny_site, tiny_topology, midnight_s)
    data = summary(run, metrics)
    text = format_summary(_Result(data, tmp_path / "summary.json", tmp_path / "night.png"))
    assert "kWh always-on" in text and "% saved" in text
    assert "Comfort" in text and "38 walkers, 123 lamp commands" in text
    assert str(tmp_path / "night.png") in text
    assert 4 <= len(text.splitlines()) <= 6
