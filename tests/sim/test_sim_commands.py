"""`luciole sim run|compare` and `luciole replay --offline` as an engineer uses them, and the
vectorised replay against the exact one."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controllers.engine import REASON_NAMES
from controllers.settings import Policy, SiteConfig
from luciole.main import main
from sim.runs.offline import BatchPipeline, Command, Events, Pipeline, as_commands
from sim.runs.replay import compare

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUMMER_NIGHT = (
    "name: short\nnight: {date: 2025-06-20, margin_s: 0}\n"
    "place: {id: short, latitude: 59.91, longitude: 10.75, timezone: Europe/Oslo}\n"
    "streets:\n  - {id: a, start: [59.9100, 10.7500], end: [59.9100, 10.7520],"
    " segment_length_m: 30, rated_power_w: 40, rate_per_h: [" + ", ".join(["40"] * 24) + "]}\n"
    "counters:\n  - {id: c1, segment: a-01}\n  - {id: c3, segment: a-03}\n"
)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A short Oslo midsummer night on one street (a few seconds offline)."""
    path = tmp_path / "short.yaml"
    path.write_text(SUMMER_NIGHT)
    (tmp_path / "p1.yaml").write_text("presence: {hold_s: 60s}\n")
    (tmp_path / "p2.yaml").write_text("presence: {hold_s: 3m, lookahead_segments: 5}\n")
    return path


def test_sim_run_writes_summary_plots_and_report(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`luciole sim run` exits 0 and writes summary.json with the promised keys, the plot and
    a Markdown report that shows the plot."""
    out = tmp_path / "out"
    code = main(
        [
            "sim",
            "run",
            "--scenario",
            str(scenario),
            "--policy",
            str(tmp_path / "p1.yaml"),
            "--out",
            str(out),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    data = json.loads((out / "summary.json").read_text())
    keys = {
        "energy_kwh",
        "always_on_kwh",
        "static_kwh",
        "oracle_kwh",
        "saving_vs_always_on",
        "energy_vs_oracle",
        "comfort",
        "worst_dark_s",
        "commands",
        "walkers",
    }
    assert keys <= data.keys() and data["walkers"] > 50
    assert (out / "night.png").read_bytes()[:8] == PNG_MAGIC
    assert "![levels and energy](night.png)" in (out / "report.md").read_text()
    assert "kWh always-on" in capsys.readouterr().out


def test_sim_compare_prints_one_row_per_policy_and_draws(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two policies, same walkers: two rows; the longer hold costs more energy."""
    plot = tmp_path / "cmp.png"
    code = main(
        [
            "sim",
            "compare",
            "--scenario",
            str(scenario),
            str(tmp_path / "p1.yaml"),
            str(tmp_path / "p2.yaml"),
            "--plot",
            str(plot),
        ]
    )
    assert code == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| p")][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["p1", "p2"]
    kwh = [float(r.split("|")[2]) for r in rows]
    assert kwh[0] < kwh[1]
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_sim_run_explains_a_bad_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario with an unknown key exits 2 and names the line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUMMER_NIGHT + "tick: 1s\n")
    (tmp_path / "p.yaml").write_text("")
    assert main(["sim", "run", "--scenario", str(bad), "--policy", str(tmp_path / "p.yaml")]) == 2
    assert f"{bad}:9: tick: unknown key 'tick'; did you mean 'tick_s'?" in capsys.readouterr().err


def _trace(tmp_path: Path, site: SiteConfig) -> Path:
    """A hand-made trace: two detections on the site's counter, ten seconds apart."""
    root = f"luciole/{site.site.id}"
    lines = [json.dumps({"trace": "luciole", "version": 1, "site": site.site.id, "start_s": 1e9})]
    for i, t in enumerate((1e9 + 5, 1e9 + 15)):
        body = json.dumps({"count": 1, "direction": "forward", "seq": i})
        lines.append(json.dumps({"t": t, "topic": f"{root}/sensor/pedestrian/c1", "payload": body}))
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_offline_writes_the_commands(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`luciole replay --offline` runs a trace through the pipeline and writes its commands;
    a broken line exits 2 with its line number."""
    from sim.runs.run import load

    site = load(scenario).world.site
    trace, out = _trace(tmp_path, site), tmp_path / "commands.jsonl"
    args = [
        "replay",
        str(trace),
        "--offline",
        "--scenario",
        str(scenario),
        "--policy",
        str(tmp_path / "p1.yaml"),
    ]
    assert main([*args, "--out", str(out)]) == 0
    published = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(p) == {"t", "topic", "payload"} for p in published)
    assert {p["payload"]["reason"] for p in published if "/lamp/" in p["topic"]} >= {"presence"}
    assert "2 message(s) replayed" in capsys.readouterr().out
    assert main([*args[:1], str(trace), *args[2:], "--batch"]) == 0
    trace.write_text(trace.read_text() + "{not json\n")
    assert main(args) == 2
    assert f"{trace}:4: not a trace record" in capsys.readouterr().err


def test_batch_replay_agrees_with_the_exact_one_on_tick_aligned_events(
    scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events that fall on tick times mean the same thing in both paths: same level changes."""
    from sim.runs.run import load

    site = load(scenario).world.site
    policy = Policy()
    start_s = 1_750_460_400.0  # midnight in Oslo, 21 June 2025: lit
    rng = np.random.default_rng(0)
    times = start_s + np.sort(rng.choice(np.arange(1, 600), 40, replace=False)).astype(float)
    counter = site.devices["c3"].segment
    segment = [s.id for s in site.segments].index(counter)
    exact = Pipeline(site, policy, start_s)
    expected = as_commands(exact.tick(start_s))
    body = b'{"count": 1, "direction": "backward"}'
    next_s = start_s + 1
    for t in times.tolist():
        while next_s < t:
            expected += as_commands(exact.tick(next_s))
            next_s += 1
        expected += as_commands(exact.message("luciole/short/sensor/pedestrian/c3", body, t))
        next_s = t + 1
    while next_s <= start_s + 700:
        expected += as_commands(exact.tick(next_s))
        next_s += 1
    events = Events(times, np.full(40, segment), np.full(40, -1), np.ones(40, dtype=np.int64))
    batch = BatchPipeline(site, policy, start_s)
    got = batch.tick(start_s)
    original, ids = batch.tick_arrays, batch.lighting.topology.ids

    def watched(now_s: float) -> Any:
        due = original(now_s)
        got.extend(
            Command(now_s, ids[i], round(float(level), 4), float(ramp), REASON_NAMES[reason])
            for i, level, ramp, reason in zip(*due, strict=True)
        )
        return due

    monkeypatch.setattr(batch, "tick_arrays", watched)
    batch.run(events, 1.0, until_s=start_s + 700)
    assert compare(got, expected).same


def test_replay_offline_raises_the_city_services_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recorded day and more of a leaking meter, replayed offline: the leak alert is among
    what the daemon would have published, with its time, topic and payload."""
    (tmp_path / "site.yaml").write_text(
        "site: {id: rec, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}\n"
        "tick_s: 1m\n"
        "segments: [{id: s1, street: a, order: 1, length_m: 30, rated_power_w: 40}]\n"
        "devices: {meter-1: {kind: water, segment: s1}}\n"
    )
    (tmp_path / "policy.yaml").write_text("{}\n")
    start_s = 1_740_960_000.0  # 2025-03-03T00:00:00Z
    lines = [json.dumps({"trace": "luciole", "version": 1, "site": "rec", "start_s": start_s})]
    for k in range(30 * 4):  # 30 h of 20 L/h, a reading every quarter of an hour
        body = json.dumps({"ts": start_s + k * 900, "seq": k, "total_m3": 10 + k * 0.005})
        record = {"t": start_s + k * 900, "topic": "luciole/rec/sensor/water/meter-1"}
        lines.append(json.dumps({**record, "payload": body}))
    trace, out = tmp_path / "meter.jsonl", tmp_path / "published.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    config = ["--config", str(tmp_path / "site.yaml")]
    assert main(["replay", str(trace), "--offline", *config, "--out", str(out)]) == 0
    published = [json.loads(line) for line in out.read_text().splitlines()]
    (leak,) = [p for p in published if p["topic"] == "luciole/rec/alert/water_leak/meter-1"]
    assert leak["payload"]["active"] is True and leak["payload"]["since"] == start_s
    # 20 known hours without a dry one, of the 24 (the 4 before the first reading unknown)
    assert leak["t"] == start_s + 20 * 3600
    assert "1 alert message(s)" in capsys.readouterr().out
