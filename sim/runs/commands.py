"""The bodies of `luciole sim run`, `luciole sim compare` and `luciole replay --offline`;
`luciole.main` parses the arguments and calls these inside the commands (the daemon never
imports the simulator)."""

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from controllers.settings import ConfigError, Policy, SiteConfig
from gateway.config import load_settings
from gateway.wire.trace import TraceError, read_trace
from sim.report.outputs import compare_table, format_summary, write_report
from sim.report.plots import plot_compare
from sim.report.services_report import score_table, write_services_report
from sim.runs.offline import BatchPipeline, decode_events
from sim.runs.replay import compare, replay_offline
from sim.runs.run import Loaded, load, load_policy, run_offline, summary_of
from sim.runs.run import Progress as Report
from sim.runs.services import load_services, run_services
from sim.runs.services import summary as services_summary
from sim.world.services import scenario_kind

EXIT_OK, EXIT_INVALID, EXIT_DIFFERENT = 0, 2, 1
NIGHT_SEED = 1


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Report | None]:
    """A rich progress bar on a terminal (stderr); nothing elsewhere."""
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield None
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda done: bar.update(task, completed=done)


def _night(loaded: Loaded, policy: Policy, seed: int, label: str) -> Any:
    with progress_bar(label) as report:
        return run_offline(loaded.world, policy, (loaded.start_s, loaded.end_s), seed, report)


def sim_run(args: argparse.Namespace) -> int:
    """One night of the scenario offline; summary.json, night.png and report.md in --out. A
    services scenario (`kind: services`): its month of bins and meters, scored against the
    truth; summary.json, bin.png, meter.png and report.md."""
    try:
        if scenario_kind(args.scenario) == "services":
            return _services_run(args)
    except (ConfigError, ValueError, OSError) as error:
        print(f"luciole sim run: {error}", file=sys.stderr)
        return EXIT_INVALID
    try:
        loaded = load(args.scenario)
        policy = load_policy(args.policy)
    except (ConfigError, ValueError, OSError) as error:
        print(f"luciole sim run: {error}", file=sys.stderr)
        return EXIT_INVALID
    seed = NIGHT_SEED if args.seed is None else args.seed
    result = _night(loaded, policy, seed, loaded.scenario.name)
    data = summary_of(result, loaded, str(args.policy), seed)
    district = result.district
    paths = write_report(
        args.out,
        data,
        result.series,
        district.topology.ids,
        district.zone,
        hourly=district.metrics.hourly,
    )
    print(format_summary(_Written(data, paths.summary_json, paths.plot_png)))
    print(f"Report: {paths.report_md}")
    return EXIT_OK


def _services_run(args: argparse.Namespace) -> int:
    world = load_services(args.scenario, args.seed)
    policy = load_policy(args.policy)
    with progress_bar(world.scenario.name) as report:
        run = run_services(world, policy, report)
    seed = world.scenario.seed if args.seed is None else args.seed
    data = services_summary(run, str(args.policy), seed)
    paths = write_services_report(args.out, data, run.devices, run.detections)
    print("\n".join(score_table(data)))
    print(f"Summary: {paths.summary_json}\nPlots: {paths.bin_png}, {paths.meter_png}")
    print(f"Report: {paths.report_md}")
    return EXIT_OK


class _Written:
    def __init__(self, summary: dict[str, Any], summary_json: Path, plot_png: Path) -> None:
        self.summary, self.summary_json, self.plot_png = summary, summary_json, plot_png


def sim_compare(args: argparse.Namespace) -> int:
    """The scenario's night under each policy: a table on stdout and one plot."""
    try:
        loaded = load(args.scenario)
        policies = [(path, load_policy(path)) for path in args.policies]
    except (ConfigError, ValueError, OSError) as error:
        print(f"luciole sim compare: {error}", file=sys.stderr)
        return EXIT_INVALID
    rows = []
    for path, policy in policies:
        result = _night(loaded, policy, args.seed, path.name)
        rows.append(summary_of(result, loaded, path.stem, args.seed))
    print(compare_table(rows))
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot_compare(args.plot, rows, f"{loaded.scenario.name}, seed {args.seed}")
    print(f"Plot: {args.plot}")
    return EXIT_OK


def replay_command(args: argparse.Namespace) -> int:
    """`luciole replay TRACE --offline`: the trace through the daemon's pipeline, its commands
    compared with the recorded ones. Exit 0 when they agree (or none were recorded), 1 when
    they differ, 2 when an input is invalid."""
    if args.batch:
        return _batch(args)
    try:
        site, policy = _site_and_policy(args)
        header, records = read_trace(args.trace)
        replayed = replay_offline(records, site, policy, header.start_s if header else None)
    except (ConfigError, ValueError, OSError, TraceError) as error:
        print(f"luciole replay: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.out:
        with args.out.open("w", encoding="utf-8") as out:
            for t_s, topic, payload in replayed.published:
                out.write(json.dumps({"t": t_s, "topic": topic, "payload": json.loads(payload)}))
                out.write("\n")
    alerts = sum("/alert/" in topic for _, topic, _ in replayed.published)
    print(
        f"{replayed.messages} message(s) replayed, {len(replayed.commands)} command(s), "
        f"{alerts} alert message(s)"
    )
    if not replayed.recorded or args.policy:
        return EXIT_OK
    agreement = compare(replayed.commands, replayed.recorded)
    if agreement.same:
        print(
            f"same commands as recorded: {agreement.matched} level changes, "
            f"at most {agreement.worst_delay_s:.3f} s apart"
        )
        return EXIT_OK
    print(f"{len(agreement.mismatched)} segment(s) differ from the recording:", file=sys.stderr)
    for line in agreement.mismatched[:20]:
        print(f"  {line}", file=sys.stderr)
    return EXIT_DIFFERENT


def _batch(args: argparse.Namespace) -> int:
    """The vectorised replay: decode once, then the events a tick at a time."""
    try:
        site, policy = _site_and_policy(args)
        header, records = read_trace(args.trace)
        events = decode_events(site, ((r.t, r.topic, r.payload) for r in records))
    except (ConfigError, ValueError, OSError, TraceError) as error:
        print(f"luciole replay: {error}", file=sys.stderr)
        return EXIT_INVALID
    start_s = header.start_s if header else float(events.time_s[0]) if len(events) else 0.0
    commands = BatchPipeline(site, policy, start_s).run(events, site.tick_s)
    print(f"{len(events)} sensor event(s) replayed in batches, {commands} command(s)")
    return EXIT_OK


def _site_and_policy(args: argparse.Namespace) -> tuple[SiteConfig, Policy]:
    """The site from --scenario or --config; the policy from --policy or the site's."""
    if args.scenario is not None:
        if args.policy is None:
            raise ValueError("with --scenario, say which policy with --policy FILE")
        return load(args.scenario).world.site, load_policy(args.policy)
    settings = load_settings(args.config)
    return settings.site, load_policy(args.policy) if args.policy else settings.policy
