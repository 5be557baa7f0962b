"""`luciole sim run|compare|sweep`, `luciole record` and `luciole replay`: their arguments, and the
bodies of the two that need no simulator. The simulator's commands are handed in by
`luciole.main`, the only gateway module that imports `sim` (inside those commands)."""

import argparse
import asyncio
import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controllers.settings import ConfigError
from gateway.config import load_settings
from gateway.mqtt.client import check_credentials
from gateway.mqtt.recorder import record_to_file, replay_file
from gateway.wire.clock import SystemClock
from luciole.files import EXIT_INVALID, EXIT_OK, doc

Handler = Callable[[argparse.Namespace], int]


def register(
    sub: "argparse._SubParsersAction[Any]",
    sim_run: Handler,
    sim_compare: Handler,
    offline: Handler,
    sim_sweep: Handler,
) -> None:
    """Add the commands to the `luciole` parser."""
    commands = _sim_parsers(sub, sim_run, sim_compare)
    _sweep_parser(commands, sim_sweep)
    _trace_parsers(sub, offline)


def _sim_parsers(
    sub: "argparse._SubParsersAction[Any]", sim_run: Handler, sim_compare: Handler
) -> "argparse._SubParsersAction[Any]":
    sim = sub.add_parser("sim", help="offline simulation of a scenario's night")
    commands: argparse._SubParsersAction[Any] = sim.add_subparsers(
        title="sim commands", metavar="SIMCOMMAND"
    )
    run = commands.add_parser(
        "run", help="one night offline: summary.json, plots, report", description=doc(sim_run)
    )
    run.add_argument("--scenario", type=Path, required=True, help="scenario file")
    run.add_argument("--policy", type=Path, required=True, help="policy file")
    run.add_argument("--out", type=Path, default=Path("sim-out"), help="(default: %(default)s)")
    run.add_argument(
        "--seed",
        type=int,
        help="random seed (default: 1; a services scenario: its own `seed:`)",
    )
    run.set_defaults(command=sim_run)
    compare = commands.add_parser(
        "compare", help="one night under several policies", description=doc(sim_compare)
    )
    compare.add_argument("--scenario", type=Path, required=True, help="scenario file")
    compare.add_argument("policies", nargs="+", type=Path, metavar="POLICY")
    compare.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    compare.add_argument(
        "--plot", type=Path, default=Path("sim-out/compare.png"), help="(default: %(default)s)"
    )
    compare.set_defaults(command=sim_compare)
    return commands


SWEEP_EXAMPLE = """example:
  luciole sim sweep --scenario config/scenarios/auckland-cbd.yaml --policy config/policy.yaml \\
    --grid "presence.hold_s=40s,60s,80s" "presence.lead_s=5s,15s" --seeds 1-2 --out sweep-out

A grid key is a dotted path into the policy file (presence.hold_s, schedule.steps[0].level),
its values written as in the file (40s, 40%, P5); every combination is checked against the
policy's rules before any run starts. Given --scheduler, the workers must see the scenario
and policy files at the same paths and have luciole[sim] installed."""


def _sweep_parser(commands: "argparse._SubParsersAction[Any]", sim_sweep: Handler) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="policies × grid × seeds as Dask tasks: sweep.csv, sweep.png",
        description=doc(sim_sweep),
        epilog=SWEEP_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("--scenario", type=Path, nargs="+", required=True, metavar="FILE")
    sweep.add_argument("--policy", type=Path, nargs="+", required=True, metavar="FILE")
    sweep.add_argument(
        "--grid",
        nargs="+",
        default=[],
        metavar="KEY=V1,V2",
        help="policy values to try, one argument per key; every combination runs",
    )
    sweep.add_argument(
        "--seeds", default="1", help="random seeds: 1-5, 1,3,7 or 3 (default: %(default)s)"
    )
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler, e.g. tcp://host:8786 (default: a local cluster of this "
        "machine's cores)",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local cluster: N worker processes (default: one per core, at most one per run)",
    )
    sweep.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where sweep.csv, .json, .png go"
    )
    sweep.set_defaults(command=sim_sweep)


def _trace_parsers(sub: "argparse._SubParsersAction[Any]", offline: Handler) -> None:
    record = sub.add_parser(
        "record", help="record what the gateway receives", description=doc(_record)
    )
    record.add_argument("--config", type=Path, default=Path("config/site.yaml"), help="site file")
    record.add_argument("--out", type=Path, required=True, help="trace file (JSON lines)")
    record.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    record.set_defaults(command=_record)
    replay = sub.add_parser("replay", help="play a trace back", description=doc(_replay))
    replay.add_argument("trace", type=Path, metavar="TRACE")
    replay.add_argument("--config", type=Path, default=Path("config/site.yaml"), help="site file")
    replay.add_argument("--scenario", type=Path, help="take the site from this scenario")
    mode = replay.add_mutually_exclusive_group()
    mode.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="to the broker, X times faster (0: at once; default: 1)",
    )
    mode.add_argument("--offline", action="store_true", help="straight into the controller")
    replay.add_argument("--policy", type=Path, help="with --offline: this policy instead")
    replay.add_argument(
        "--batch",
        action="store_true",
        help="with --offline: vectorised, a tick at a time (fast; lamps react a tick later)",
    )
    replay.add_argument(
        "--out",
        type=Path,
        help="with --offline: write what the daemon would publish (lamp commands, alerts, the "
        "collection list) here as JSON lines: t, topic, payload",
    )
    replay.set_defaults(command=functools.partial(_replay, offline=offline))


def has_sim_extra(command: str, also: tuple[str, ...] = ()) -> bool:
    """Whether the simulator's extra is installed (with the modules `also` names, for a command
    that needs more of it); says what to install when it is not."""
    names = ("matplotlib", "rich", *also)
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"luciole {command} needs the simulator extra: pip install 'luciole[sim]' "
            f"(missing: {', '.join(missing)})",
            file=sys.stderr,
        )
        return False
    return True


def _record(args: argparse.Namespace) -> int:
    """Record what the gateway of a site receives (its sensor sources, overrides) and the lamp
    commands it sends, with receive times, as JSON lines; until --duration or Ctrl-C."""
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    base = settings.site_path.parent
    problem = check_credentials(settings.site.broker, base)
    if problem is not None:
        print(f"luciole record: {problem}", file=sys.stderr)
        return EXIT_INVALID
    try:
        count = asyncio.run(
            record_to_file(settings.site, base, args.out, SystemClock(), args.duration)
        )
    except KeyboardInterrupt:
        return EXIT_OK
    print(f"{count} message(s) recorded in {args.out}", file=sys.stderr)
    return EXIT_OK


def _replay(args: argparse.Namespace, offline: Handler) -> int:
    """Play a trace back: to the site's broker with its recorded spacing (--speed), or
    --offline straight into the daemon's intake and lighting, reporting whether the commands
    are the recorded ones (exit 0 same, 1 different, 2 invalid input)."""
    if args.offline:
        return offline(args)
    if args.policy or args.out or args.batch:
        print("luciole replay: --policy, --out and --batch go with --offline", file=sys.stderr)
        return EXIT_INVALID
    try:
        settings = load_settings(args.config)
        base = settings.site_path.parent
        problem = check_credentials(settings.site.broker, base)
        if problem is not None:
            raise ValueError(problem)
        sent = asyncio.run(replay_file(settings.site, base, args.trace, args.speed))
    except (ConfigError, ValueError, OSError) as error:
        print(f"luciole replay: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{sent} message(s) published", file=sys.stderr)
    return EXIT_OK
