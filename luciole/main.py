"""`luciole`: the command line. The only gateway module allowed to import `sim`, and only inside
the commands that need it, so the daemon never loads the simulator."""

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from controllers.settings import ConfigError
from controllers.settings.site import BrokerSettings, ConsoleSettings
from gateway import logs
from gateway.config import Settings, check_file, load_settings
from gateway.daemon import Daemon
from gateway.lighting.authority import check_keys
from gateway.mqtt.broker import MissingExtraError
from gateway.mqtt.client import check_credentials, warn_if_plaintext
from gateway.wire.clock import Clock, SystemClock
from luciole import files, override, services, setup, traces
from luciole.files import EXIT_INVALID, EXIT_OK, doc

DEMO_TICK_REAL_S = 0.02
DEMO_TOKEN_ENV = "LUCIOLE_CONSOLE_TOKEN"


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

    demo = sub.add_parser(
        "demo", help="one simulated night on a simulated district", description=doc(_demo)
    )
    demo.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file of the district (default: %(default)s)",
    )
    demo.add_argument(
        "--broker",
        metavar="mqtt://HOST:PORT",
        help="use this broker instead of starting the embedded one",
    )
    demo.add_argument(
        "--duration",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="real seconds the night takes (default: %(default)s)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        metavar="X",
        help="simulated seconds per real second (overrides --duration)",
    )
    demo.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the night that starts on this date (default: today at the site)",
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        help="folder for summary.json and the plot (default: %(default)s)",
    )
    demo.add_argument("--no-live", action="store_true", help="plain progress lines, no live view")
    demo.add_argument(
        "--console-port",
        type=int,
        default=8080,
        metavar="PORT",
        help="serve the operator's console on 127.0.0.1:PORT while the night runs, 0: none "
        "(default: %(default)s)",
    )
    _log_options(demo, default_level="warning")
    demo.set_defaults(command=_demo)
    traces.register(sub, sim_run=_sim_run, sim_compare=_sim_compare, offline=_replay_offline)
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
        settings = load_settings(args.config)
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
    asyncio.run(_serve(settings, SystemClock()))
    return EXIT_OK


async def _serve(settings: Settings, clock: Clock) -> None:
    daemon = Daemon(settings, clock, reload=lambda: load_settings(settings.site_path))
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


def _demo(args: argparse.Namespace) -> int:
    """Run one night at accelerated time on a simulated district with a live view.

    Starts an embedded broker (unless --broker), the simulated counters, bins, meters and
    lamps, the gateway and the controller; prints a summary and writes summary.json and a plot.
    """
    try:
        from sim.runs.demo import DemoOptions  # noqa: F401  (needs the sim extra)
    except ImportError as error:
        print(
            f"luciole demo needs the simulator extra: pip install 'luciole[sim]' ({error})",
            file=sys.stderr,
        )
        return EXIT_INVALID
    logs.configure(args.log_level, args.log_format)
    try:
        settings = load_settings(args.config)
        asyncio.run(_demo_night(settings, args))
    except (ConfigError, ValidationError, MissingExtraError) as error:
        print(f"luciole demo: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


async def _demo_night(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.mqtt.broker import EmbeddedBroker
    from sim.report.outputs import format_summary
    from sim.runs.demo import DemoOptions, run_demo

    options = DemoOptions(
        duration_s=args.duration,
        speed=args.speed,
        out_dir=args.out,
        seed=args.seed,
        date=args.date,
        live=not args.no_live,
    )
    # The demo's spool goes with its other output, not beside the site file.
    out = args.out.resolve()
    files: dict[str, object] = {
        "spool_path": str(out / "spool.db"),
        "deadletter_path": str(out / "deadletter.jsonl"),
    }
    if args.console_port:
        files["console"] = _demo_console(args.console_port)
    settings = dataclasses.replace(settings, site=settings.site.model_copy(update=files))
    if args.broker:
        demo = _on_broker(settings, args.broker)
        result = await run_demo(demo.site, demo.policy, options, _gateway_starter(demo))
    else:
        async with EmbeddedBroker() as url:
            demo = _on_broker(settings, url)
            result = await run_demo(demo.site, demo.policy, options, _gateway_starter(demo))
    print(format_summary(result))


def _demo_console(port: int) -> ConsoleSettings:
    """The demo's console, with a token made for this run (printed: the demo is local)."""
    token = os.environ.setdefault(DEMO_TOKEN_ENV, secrets.token_hex(8))
    print(
        f"Console: http://127.0.0.1:{port}/ (token for actions: {token}, or set {DEMO_TOKEN_ENV})",
        file=sys.stderr,
    )
    return ConsoleSettings(port=port, token_env=DEMO_TOKEN_ENV)


def _on_broker(settings: Settings, url: str) -> Settings:
    """The same settings, pointed at another broker."""
    broker = BrokerSettings.model_validate({**settings.site.broker.model_dump(), "url": url})
    site = settings.site.model_copy(update={"broker": broker})
    return Settings(site, settings.policy, settings.site_path, settings.policy_path)


def _gateway_starter(settings: Settings) -> Callable[[Clock], Awaitable[None]]:
    """The demo's gateway: the real daemon on the simulator's clock. At a thousand times real
    speed a tick per simulated second would burn a core for nothing (presence does not wait
    for ticks), so ticks are spaced to at least DEMO_TICK_REAL_S of real time."""

    async def start_gateway(clock: Clock) -> None:
        speed = float(getattr(clock, "speed", 1.0))
        tick_s = max(settings.site.tick_s, speed * DEMO_TICK_REAL_S)
        site = settings.site.model_copy(update={"tick_s": tick_s})
        await Daemon(dataclasses.replace(settings, site=site), clock).run()

    return start_gateway


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


def _replay_offline(args: argparse.Namespace) -> int:
    if not traces.has_sim_extra("replay --offline"):
        return EXIT_INVALID
    from sim.runs.commands import replay_command

    return replay_command(args)


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
