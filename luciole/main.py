"""`luciole`: the command line: the parser, `luciole run`, `check-config` and the entries of the
`sim` commands; the other commands register from their modules. Like `luciole.demo`, it imports
`sim` only inside the commands that need it, so the daemon never loads the simulator."""

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from controllers.settings import ConfigError
from gateway import logs
from gateway.config import ROLES, Settings, check_file, load_settings
from gateway.daemon import Daemon
from gateway.lighting.authority import check_keys
from gateway.mqtt.client import check_credentials, warn_if_plaintext
from gateway.wire.clock import Clock, SystemClock
from luciole import demo, files, override, services, setup, status, traces
from luciole.files import EXIT_INVALID, EXIT_OK, doc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `luciole` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return EXIT_INVALID
    code: int = args.command(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luciole",
        description="Adaptive street lighting and street sensors: the edge daemon and its tools.",
    )
    parser.add_argument(
        "--version", action="version", version=f"luciole {setup.installed_version()}"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon for one site", description=doc(_run))
    run.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file (default: %(default)s); it names its policy file",
    )
    run.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="all: store and light (default); ingest: only store, sharing the sensors with "
        "other workers ($share/GROUP/...); control: light, leaving the storing to the workers",
    )
    run.add_argument(
        "--worker",
        type=_worker_number,
        default=1,
        metavar="N",
        help="with --role ingest: this worker's number (its client id, spool and metrics port)",
    )
    run.add_argument(
        "--district",
        metavar="NAME",
        help="serve only this district of the site file (its segments, devices and overrides)",
    )
    _log_options(run)
    run.set_defaults(command=_run)

    check = sub.add_parser(
        "check-config", help="validate site and policy files", description=doc(_check_config)
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(command=_check_config)

    files.register(sub)
    setup.register(sub)
    override.register(sub)
    services.register(sub)
    status.register(sub)

    demo.register(sub, _log_options)
    traces.register(
        sub,
        sim_run=_sim_run,
        sim_compare=_sim_compare,
        offline=_replay_offline,
        sim_sweep=_sim_sweep,
    )
    return parser


def _log_options(parser: argparse.ArgumentParser, default_level: str = "info") -> None:
    parser.add_argument(
        "--log-level",
        default=default_level,
        choices=["debug", "info", "warning", "error"],
        help="(default: %(default)s)",
    )
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="(default: %(default)s)"
    )


def _run(args: argparse.Namespace) -> int:
    """Run the daemon: ingest sensors, compute levels, publish lamp commands.

    SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the site and policy files (an invalid
    new config is refused and the running one kept).
    """
    logs.configure(args.log_level, args.log_format)
    try:
        settings = load_settings(args.config, args.role, args.district, args.worker)
    except ConfigError as error:
        print(error, file=sys.stderr)
        print("luciole: configuration invalid; see `luciole check-config`", file=sys.stderr)
        return EXIT_INVALID
    base = settings.site_path.parent
    problem = check_credentials(settings.site.broker, base) or check_keys(
        settings.site.overrides, base
    )
    if problem is not None:
        print(f"luciole: {problem}", file=sys.stderr)
        return EXIT_INVALID
    warn_if_plaintext(settings.site.broker)
    asyncio.run(_serve(settings, SystemClock(), args.worker))
    return EXIT_OK


def _worker_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 999:
        raise argparse.ArgumentTypeError(f"a worker is numbered 1 to 999, not {text!r}")
    return int(text)


async def _serve(settings: Settings, clock: Clock, worker: int = 1) -> None:
    district = settings.district.name if settings.district else None

    def reload() -> Settings:
        return load_settings(settings.site_path, settings.role, district, worker)

    daemon = Daemon(settings, clock, reload=reload)
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, daemon.stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.request_reload)
    await daemon.run()


def _check_config(args: argparse.Namespace) -> int:
    """Validate site and policy files: every problem with its file, line, key path and fix,
    and warnings about policies that are legal but unwise (a site file is checked with its
    policy). Exit status 0 when every file is valid (warnings or not), 2 otherwise.
    """
    # A site file is checked with its policy, which may also be named: report each once.
    found = list(dict.fromkeys(p for path in args.files for p in check_file(path)))
    for problem in found:
        print(problem, file=sys.stderr)
    errors = [p for p in found if not p.warning]
    if errors:
        print(f"{len(errors)} problem(s) found", file=sys.stderr)
        return EXIT_INVALID
    warned = len(found) - len(errors)
    print(f"{len(args.files)} file(s) valid" + (f", {warned} warning(s)" if warned else ""))
    return EXIT_OK


def _sim_run(args: argparse.Namespace) -> int:
    """Run one night of a scenario offline, in simulated time, through the gateway's own
    intake and lighting: deterministic for a seed. Writes summary.json, night.png (levels per
    segment with the walkers over them, energy per hour against the baselines) and report.md.
    """
    if not traces.has_sim_extra("sim run"):
        return EXIT_INVALID
    from sim.runs.commands import sim_run

    return sim_run(args)


def _sim_compare(args: argparse.Namespace) -> int:
    """Run the scenario's night once per policy (same seed, same walkers); print a table and
    draw one plot of energy against the baselines."""
    if not traces.has_sim_extra("sim compare"):
        return EXIT_INVALID
    from sim.runs.commands import sim_compare

    return sim_compare(args)


def _sim_sweep(args: argparse.Namespace) -> int:
    """Run every combination of scenarios, policies, a grid of policy values and seeds offline,
    each run an independent task on Dask (a local cluster of this machine's cores, or the
    scheduler at --scheduler), with a progress bar. Writes sweep.csv (a row per run: its grid
    values, status, error and the summary's figures), sweep.json and sweep.png (energy against
    comfort, the Pareto front marked), and prints the front. A failed run is reported and the
    others go on. Exit 0 when every run succeeded, 1 when some failed, 2 on invalid input."""
    if not traces.has_sim_extra("sim sweep", also=("dask", "distributed")):
        return EXIT_INVALID
    from sim.runs.sweep_command import sim_sweep

    return sim_sweep(args)


def _replay_offline(args: argparse.Namespace) -> int:
    if not traces.has_sim_extra("replay --offline"):
        return EXIT_INVALID
    from sim.runs.commands import replay_command

    return replay_command(args)


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
