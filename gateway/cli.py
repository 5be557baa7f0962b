"""`luciole`: the command line. The only gateway module allowed to import `sim`, and only inside
the commands that need it, so the daemon never loads the simulator."""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from controllers.settings import ConfigError
from controllers.settings.site import BrokerSettings
from gateway import logs
from gateway.clock import Clock, SystemClock
from gateway.config import Settings, check_file, load_settings
from gateway.daemon import Daemon
from gateway.mqtt import check_credentials

EXIT_OK, EXIT_INVALID = 0, 2
DEMO_TICK_REAL_S = 0.02


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
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon for one site", description=_doc(_run))
    run.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file (default: %(default)s); it names its policy file",
    )
    _log_options(run)
    run.set_defaults(command=_run)

    check = sub.add_parser(
        "check-config", help="validate site and policy files", description=_doc(_check_config)
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(command=_check_config)

    decode = sub.add_parser(
        "decode", help="show what a payload yields, or why it is refused", description=_doc(_decode)
    )
    decode.add_argument("file", metavar="FILE", help="the payload, or - for standard input")
    decode.add_argument("--format", help="native, chirpstack, tts, senml or wmbusmeters")
    decode.add_argument("--codec", help="vendor codec for LoRaWAN bytes, e.g. milesight-vs133")
    decode.add_argument("--topic", help="the MQTT topic it came on (routes it with --config)")
    decode.add_argument("--config", type=Path, help="site file: also check the device registry")
    decode.set_defaults(command=_decode)

    export = sub.add_parser(
        "export", help="dump readings from the local spool", description=_doc(_export)
    )
    export.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file, to find its spool (default: %(default)s)",
    )
    export.add_argument(
        "--since",
        default="24h",
        help="RFC 3339 time or date, or a duration ago such as 7d (default: 24h)",
    )
    export.add_argument("--until", default=None, help="same forms (default: now)")
    export.add_argument(
        "--format", dest="fmt", choices=["lineprotocol", "csv"], default="lineprotocol"
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.set_defaults(command=_export)

    demo = sub.add_parser(
        "demo", help="one simulated night on a simulated district", description=_doc(_demo)
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
    _log_options(demo, default_level="warning")
    demo.set_defaults(command=_demo)
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


def _doc(function: object) -> str:
    return (getattr(function, "__doc__", "") or "").strip()


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
    problem = check_credentials(settings.site.broker, settings.site_path.parent)
    if problem is not None:
        print(f"luciole: {problem}", file=sys.stderr)
        return EXIT_INVALID
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
    """Validate site and policy files: every problem with its file, line, key path and fix.

    Exit status 0 when every file is valid, 2 otherwise.
    """
    problems = [p for path in args.files for p in check_file(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(args.files)} file(s) valid")
    return EXIT_OK


def _decode(args: argparse.Namespace) -> int:
    """Decode one payload as the gateway would: readings as JSON lines on stdout (exit 0), or
    the reason it is refused on stderr (exit 2). Without --config the device check is skipped.
    """
    from gateway.decoding import DecodeRequest, decode

    try:
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        site = load_settings(args.config).site if args.config else None
    except OSError as error:
        print(f"luciole decode: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    result = decode(DecodeRequest(payload, args.format, args.codec, args.topic, site))
    if isinstance(result, list):
        for row in result:
            print(json.dumps(row, ensure_ascii=False))
        if not result:
            print(
                "luciole decode: accepted, no reading yet (a counter's first total is its "
                "baseline)",
                file=sys.stderr,
            )
        return EXIT_OK
    print(f"refused: {result.reason}: {result.detail}", file=sys.stderr)
    return EXIT_INVALID


def _export(args: argparse.Namespace) -> int:
    """Write the readings of the local spool in [since, until) as InfluxDB line protocol or
    CSV (one row per field), whether or not they reached a database."""
    from gateway.export import export, parse_when
    from gateway.spool import Spool

    now_s = time.time()
    try:
        settings = load_settings(args.config)
        since_s = parse_when(args.since, now_s)
        until_s = parse_when(args.until, now_s) if args.until else now_s
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    except ValueError as error:
        print(f"luciole export: {error}", file=sys.stderr)
        return EXIT_INVALID
    if not settings.spool_path.exists():
        print(f"luciole export: no spool at {settings.spool_path} yet", file=sys.stderr)
        return EXIT_INVALID
    spool = Spool(settings.spool_path)
    with (
        args.out.open("w", encoding="utf-8")
        if args.out
        else contextlib.nullcontext(sys.stdout) as out
    ):
        count = export(spool, since_s, until_s, args.fmt, out)
    print(f"{count} reading(s) exported", file=sys.stderr)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    """Run one night at accelerated time on a simulated district with a live view.

    Starts an embedded broker (unless --broker), the simulated counters, bins, meters and
    lamps, the gateway and the controller; prints a summary and writes summary.json and a plot.
    """
    try:
        from sim.demo import DemoOptions  # noqa: F401  (needs the sim extra)
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
    except (ConfigError, ValidationError) as error:
        print(f"luciole demo: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


async def _demo_night(settings: Settings, args: argparse.Namespace) -> None:
    from gateway.broker import EmbeddedBroker
    from sim.demo import DemoOptions, run_demo
    from sim.report import format_summary

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
    files = {"spool_path": str(out / "spool.db"), "deadletter_path": str(out / "deadletter.jsonl")}
    settings = dataclasses.replace(settings, site=settings.site.model_copy(update=files))
    if args.broker:
        demo = _on_broker(settings, args.broker)
        result = await run_demo(demo.site, demo.policy, options, _gateway_starter(demo))
    else:
        async with EmbeddedBroker() as url:
            demo = _on_broker(settings, url)
            result = await run_demo(demo.site, demo.policy, options, _gateway_starter(demo))
    print(format_summary(result))


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


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
