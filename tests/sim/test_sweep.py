"""`luciole sim sweep`: the grid and seeds options, every combination checked by the policy
loader before anything runs, the Pareto front, failed runs as rows, and the command end to end
on Dask's local cluster."""

import csv
import itertools
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster
from hypothesis import given
from hypothesis import strategies as st

from controllers.settings import ConfigError
from luciole.main import main
from sim.report.sweep_table import pareto_front
from sim.runs.sweep import dask_client, night_task, run_on
from sim.runs.sweep_command import write_sweep
from sim.runs.sweep_plan import Axis, Plan, Task, applied, parse_grid, parse_seeds, plan

CONFIG = Path(__file__).resolve().parents[2] / "config"
POLICY = CONFIG / "policy.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Midsummer at 64.4° N: the sun is down for under three hours, so a night takes seconds.
SHORT_NIGHT = (
    "name: nightless\nnight: {date: 2025-06-20, margin_s: 0}\n"
    "place: {id: nightless, latitude: 64.4, longitude: 25.47, timezone: Europe/Helsinki}\n"
    "streets:\n  - {id: a, start: [64.4, 25.4700], end: [64.4, 25.4740],"
    " segment_length_m: 30, rated_power_w: 40, rate_per_h: [" + ", ".join(["40"] * 24) + "]}\n"
    "counters:\n  - {id: c1, segment: a-01}\n  - {id: c3, segment: a-03}\n"
)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A one-street night of under three hours."""
    path = tmp_path / "nightless.yaml"
    path.write_text(SHORT_NIGHT)
    return path


def test_grid_arguments_parse_into_axes() -> None:
    """Each --grid argument is a key and its values as written; combinations come from all."""
    axes = parse_grid(["presence.hold_s=40s, 60s,80s", "schedule.steps[0].level=P4,P5"])
    assert axes == (
        Axis("presence.hold_s", ("40s", "60s", "80s")),
        Axis("schedule.steps[0].level", ("P4", "P5")),
    )
    assert parse_grid([]) == ()


@pytest.mark.parametrize(
    ("grid", "says"),
    [
        (["presence.hold_s"], "expected KEY=VALUE"),
        (["presence.hold_s="], "a value is empty"),
        (["presence.hold_s=40s,,60s"], "a value is empty"),
        (["presence.hold_s=40s,40s"], "listed twice"),
        (["presence..hold_s=40s"], "not a dotted key"),
        (["presence.hold_s=40s", "presence.hold_s=60s"], "given more than once"),
    ],
)
def test_bad_grid_arguments_say_what_is_wrong(grid: list[str], says: str) -> None:
    """A malformed --grid is refused with a message naming the problem."""
    with pytest.raises(ValueError, match=says):
        parse_grid(grid)


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("1-5", (1, 2, 3, 4, 5)), ("1,3,7", (1, 3, 7)), ("3", (3,)), ("1-3, 7, 2", (1, 2, 3, 7))],
)
def test_seeds_accept_ranges_lists_and_one(text: str, seeds: tuple[int, ...]) -> None:
    """--seeds takes a range, a list, one seed or a mix; each seed runs once."""
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "5-1", "1-", "-3", "1;2", "1.5"])
def test_bad_seeds_are_refused(text: str) -> None:
    """Anything but non-negative seeds and ascending ranges is a clear error."""
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(text)


_RANGE = st.tuples(st.integers(0, 500), st.integers(0, 20)).map(lambda r: (r[0], r[0] + r[1]))


@given(st.lists(st.one_of(st.integers(0, 10**6), _RANGE), min_size=1, max_size=8))
def test_seeds_round_trip_any_mix(parts: list[int | tuple[int, int]]) -> None:
    """Any list of seeds and ranges, written as the option, parses to those seeds in order."""
    text = ",".join(str(p) if isinstance(p, int) else f"{p[0]}-{p[1]}" for p in parts)
    expected: list[int] = []
    for part in parts:
        expected += [part] if isinstance(part, int) else list(range(part[0], part[1] + 1))
    assert parse_seeds(text) == tuple(dict.fromkeys(expected))


_NAME = st.text("abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12)
_VALUE = st.text(st.characters(exclude_characters=",", exclude_categories=["Cc", "Zs"]), min_size=1)


@given(
    st.lists(_NAME, min_size=1, max_size=4), st.lists(_VALUE, min_size=1, max_size=5, unique=True)
)
def test_grid_round_trips_any_key_and_values(parts: list[str], values: list[str]) -> None:
    """Any dotted key and comma-free values, written as the option, parse back unchanged."""
    key = ".".join(parts)
    values = [v.strip() for v in values]
    if "" in values or len(set(values)) < len(values):
        return  # stripping made a value empty or two alike: refused, as tested above
    assert parse_grid([f"{key}={','.join(values)}"]) == (Axis(key, tuple(values)),)


def test_applied_sets_each_key_in_a_copy() -> None:
    """A grid point changes only its keys, through sections and list items, in a copy."""
    data: dict[str, Any] = {
        "presence": {"hold_s": "80s"},
        "schedule": {"steps": [{"at": "00:30", "level": "P6"}]},
    }
    point = (("presence.hold_s", "40s"), ("schedule.steps[0].level", "P5"), ("limits.max", "90%"))
    result = applied(data, point)
    assert result["presence"] == {"hold_s": "40s"} and result["limits"] == {"max": "90%"}
    assert result["schedule"]["steps"][0] == {"at": "00:30", "level": "P5"}
    assert data["presence"]["hold_s"] == "80s" and "limits" not in data


@pytest.mark.parametrize(
    ("grid", "says"),
    [
        ("presence.hold=40s,60s", "presence.hold: unknown key 'hold'; did you mean 'hold_s'?"),
        ("presense.hold_s=40s", "presense: unknown key 'presense'; did you mean 'presence'?"),
        (
            "presence.hold_s=40s,-5s",
            "with --grid presence.hold_s=-5s: presence.hold_s: must be ≥ 0",
        ),
        ("limits.floor=dim", "limits.floor: expected a level such as 0.4"),
        ("presence.hold_s.more=1", "presence.hold_s is a value, not a section"),
        ("schedule.steps[9].level=P5", "schedule.steps[9] is not in the policy file"),
    ],
)
def test_a_bad_grid_key_or_value_stops_the_sweep_before_it_starts(
    scenario: Path, grid: str, says: str
) -> None:
    """Every combination goes through the policy loader first: the error names the key."""
    with pytest.raises((ConfigError, ValueError)) as raised:
        plan([scenario], [POLICY], [grid], "1")
    assert says in str(raised.value)


def test_the_plan_is_every_combination(scenario: Path) -> None:
    """Scenarios × policies × grid points × seeds, each with its policy data applied."""
    sweep = plan([scenario], [POLICY], ["presence.hold_s=40s,60s,80s", "presence.lead_s=5s"], "1-2")
    assert sweep.keys == ("presence.hold_s", "presence.lead_s")
    assert len(sweep.tasks) == 6 and [t.index for t in sweep.tasks] == list(range(6))
    holds = [(t.policy_data["presence"]["hold_s"], t.seed) for t in sweep.tasks]
    assert holds == list(itertools.product(["40s", "60s", "80s"], [1, 2]))
    assert sweep.tasks[0].label == f"{POLICY} presence.hold_s=40s presence.lead_s=5s"


def test_pareto_front_keeps_what_nothing_beats() -> None:
    """Less energy or more comfort keeps a point; beaten points and equal-energy worse go."""
    points = [(10.0, 0.99), (8.0, 0.95), (9.0, 0.94), (8.0, 0.90), (12.0, 0.99), (11.0, 0.999)]
    assert pareto_front(points) == [1, 0, 5]
    assert pareto_front([(1.0, 0.5), (1.0, 0.5)]) == [0, 1]
    assert pareto_front([]) == []


_POINT = st.tuples(st.integers(0, 20).map(float), st.integers(0, 20).map(lambda c: c / 20))


@given(st.lists(_POINT, max_size=30))
def test_pareto_front_matches_its_definition(points: list[tuple[float, float]]) -> None:
    """The front is exactly the points no other point dominates, by rising energy."""

    def beaten(p: tuple[float, float]) -> bool:
        return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)

    front = pareto_front(points)
    assert sorted(front) == [i for i, p in enumerate(points) if not beaten(p)]
    assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)


def test_a_failed_run_is_returned_not_raised(tmp_path: Path) -> None:
    """A run that cannot start comes back with its error instead of raising in the worker."""
    outcome = night_task(str(tmp_path / "missing.yaml"), {}, "p", 1)
    assert "missing.yaml" in outcome["error"] and outcome["error"].startswith("FileNotFoundError")
    assert "Traceback" in outcome["traceback"] and "summary" not in outcome


def test_failed_runs_are_rows_and_the_others_finish(scenario: Path, tmp_path: Path) -> None:
    """On a cluster at a scheduler's address, two runs that fail at run time (a bad value, a
    missing file) are failed rows with their errors; the good run still gives its summary,
    and the table and plot are written with the failures in them."""
    good = {"presence": {"hold_s": "40s"}}
    tasks = [
        Task(0, str(scenario), "p.yaml", (("presence.hold_s", "40s"),), good, 1),
        Task(
            1,
            str(scenario),
            "p.yaml",
            (("presence.hold_s", "-5s"),),
            {"presence": {"hold_s": -5}},
            1,
        ),
        Task(2, str(tmp_path / "gone.yaml"), "p.yaml", (("presence.hold_s", "40s"),), good, 1),
    ]
    cluster = LocalCluster(n_workers=2, dashboard_address=None)  # type: ignore[no-untyped-call]
    with cluster, dask_client(cluster.scheduler_address) as client:
        rows = sorted(run_on(client, tasks), key=lambda r: r.index)
    assert [r.ok for r in rows] == [True, False, False]
    assert rows[0].summary is not None and rows[0].summary["walkers"] > 0
    assert rows[1].error is not None and "ValidationError" in rows[1].error
    assert rows[2].error is not None and "gone.yaml" in rows[2].error
    paths = write_sweep(tmp_path / "out", rows, Plan(tasks, ("presence.hold_s",)))
    with paths.csv.open() as table:
        written = list(csv.DictReader(table))
    assert [r["status"] for r in written] == ["ok", "failed", "failed"]
    assert written[0]["energy_kwh"] and not written[1]["energy_kwh"]
    assert "gone.yaml" in written[2]["error"]
    assert paths.png.read_bytes()[:8] == PNG_MAGIC


def test_sim_sweep_writes_its_table_and_plot(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`luciole sim sweep` on Dask's local cluster: a row per run with its grid values and
    figures in sweep.csv, a PNG plot, the Pareto front and the paths printed; exit 0."""
    out = tmp_path / "out"
    args = ["sim", "sweep", "--scenario", str(scenario), "--policy", str(POLICY)]
    args += ["--grid", "presence.hold_s=40s,80s", "--seeds", "1", "--workers", "2"]
    assert main([*args, "--out", str(out)]) == 0
    with (out / "sweep.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert [(r["presence.hold_s"], r["seed"], r["status"]) for r in rows] == [
        ("40s", "1", "ok"),
        ("80s", "1", "ok"),
    ]
    energy = [float(r["energy_kwh"]) for r in rows]
    assert energy[0] < energy[1]  # the longer hold lights empty segments longer
    assert all(float(r["comfort"]) > 0 and int(r["commands"]) > 0 for r in rows)
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    printed = capsys.readouterr().out
    assert "Pareto front" in printed and "hold_s=40s" in printed
    assert str(out / "sweep.csv") in printed


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--grid", "presence.lead=5s"], "did you mean 'lead_s'?"),
        (["--seeds", "2-1"], "runs backwards"),
        (["--workers", "0"], "at least one worker"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "has its own workers"),
    ],
)
def test_sim_sweep_refuses_bad_options_before_starting(
    scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    says: str,
) -> None:
    """A bad grid key, seed range or worker count exits 2 with why, before any cluster or run."""
    args = ["sim", "sweep", "--scenario", str(scenario), "--policy", str(POLICY)]
    assert main([*args, *options, "--out", str(tmp_path / "out")]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
