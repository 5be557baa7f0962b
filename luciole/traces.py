"""`luciole sim run|compare`, `luciole record` and `luciole replay`: their arguments, and the
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
    sub: "argparse._SubParsersAction[Any]", sim_run: Handler, sim_compare: Handler, offline: Handler
) -> None:
    """Add the commands to the `luciole` parser."""
    _sim_parsers(sub, sim_run, sim_compare)
    _trace_parsers(sub, offline)


def _sim_parsers(
    sub: "argparse._SubParsersAction[Any]", sim_run: Handler, sim_compare: Handler
) -> None:
    sim = sub.add_parser("sim", help="offline simulation of a scenario's night")
    commands = sim.add_subparsers(title="sim commands", metavar="SIMCOMMAND")
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


def has_sim_extra(command: str) -> bool:
    """Whether the simulator's extra is installed; says what to install when it is not."""
    missing = [name for name in ("matplotlib", "rich") if importlib.util.find_spec(name) is None]
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
