"""`luciole sim run` on a services scenario: the month (here eight days) through the daemon's
pipeline, scored against the truth, with its summary, plots and report."""

import json
from pathlib import Path

import pytest
import yaml

from controllers.settings import Policy
from luciole.main import main
from sim.runs.services import load_services, run_services

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped scenario, shortened to eight days of 30 bins and 40 meters."""
    data = yaml.safe_load((SCENARIOS / "angers-services.yaml").read_text())
    data["days"] = 8
    data["bins"]["count"], data["meters"]["count"] = 30, 40
    data["meters"]["leak_share"] = 0.2
    path = tmp_path_factory.mktemp("services") / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_daemons_rules_find_what_happened(small: Path) -> None:
    """Through the daemon's own pipeline: every message taken, the leaks that could be seen
    raised, no false one, the emptyings found."""
    run = run_services(load_services(small), Policy())
    scores = run.scores
    assert run.rejected == 0 and run.messages == run.devices.message_count
    assert scores["leak_recall"] == 1.0 and scores["leak_false_per_1000_meter_days"] == 0.0
    assert scores["emptying_recall"] >= 0.99 and scores["emptying_precision"] >= 0.99
    assert 20 <= scores["leak_detection_delay_h"] <= 26  # a day without a dry hour
    assert 0.0 < scores["full_forecast_mae_h"] < 24.0


def test_sim_run_writes_the_summary_the_plots_and_the_report(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("{}\n")
    out = tmp_path / "out"
    args = ["sim", "run", "--scenario", str(small), "--policy", str(policy), "--out", str(out)]
    assert main([*args, "--seed", "11"]) == 0
    printed = capsys.readouterr().out
    assert "| `leak_recall` |" in printed and ">= 0.95" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 11 and summary["bins"] == 30 and summary["meters"] == 40
    assert {"leak_recall", "emptying_precision", "collections_saved"} <= set(summary)
    for name in ("bin.png", "meter.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![a bin](bin.png)" in (out / "report.md").read_text()
