"""`luciole demo`: one simulated night on a simulated district, with the real gateway on the
simulator's clock. The simulator is imported inside the command, so nothing else loads it."""

import argparse
import asyncio
import dataclasses
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from controllers.settings import ConfigError
from controllers.settings.site import BrokerSettings, ConsoleSettings
from gateway import logs
from gateway.config import Settings, load_settings
from gateway.daemon import Daemon
from gateway.mqtt.broker import EmbeddedBroker, MissingExtraError
from gateway.wire.clock import Clock
from luciole.files import EXIT_INVALID, EXIT_OK, doc

DEMO_TICK_REAL_S = 0.02
DEMO_TOKEN_ENV = "LUCIOLE_CONSOLE_TOKEN"


def register(
    sub: "argparse._SubParsersAction[Any]",
    log_options: Callable[[argparse.ArgumentParser, str], None],
) -> None:
    """Add `demo` to the `luciole` parser; `log_options` adds the shared logging options."""
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
    # Two minutes: at one (about 950 times real speed) a 2-core machine's timing alone cost
    # about 1 % of comfort (98.8 %; 99.6 % at two, 100 % offline).
    demo.add_argument(
        "--duration",
        type=float,
        default=120.0,
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
    log_options(demo, "warning")
    demo.set_defaults(command=_demo)


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
