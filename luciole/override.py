"""`luciole override TARGET LEVEL --for 30m` and `luciole override TARGET --clear`.

The command checks the target against the site and its policy (segment, street, group or
`all`), then publishes the override on the site's broker with QoS 1 and waits for the broker
to take it; the daemon applies it on receipt. Not retained: a duration counts from when the
daemon receives the message, so an old retained override must not come back after a restart.
"""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from controllers.settings import ConfigError
from controllers.targets import target_segments, unknown_target
from controllers.topology import topology_from_site
from controllers.units import parse_duration_s, parse_ratio
from gateway.config import Settings, load_settings
from gateway.mqtt.client import MqttError, check_credentials, tool_client
from gateway.wire.payloads import OverrideMessage
from gateway.wire.topics import Topics
from luciole.files import EXIT_INVALID, EXIT_OK, doc

EXIT_UNREACHABLE = 1
PUBLISH_TIMEOUT_S = 10.0


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    """Add `override` to the `luciole` parser."""
    parser = sub.add_parser(
        "override", help="set or clear an operator override", description=doc(_override)
    )
    parser.add_argument("target", metavar="TARGET", help="a segment id, a street, a group or all")
    parser.add_argument("level", metavar="LEVEL", nargs="?", help="such as 0.8 or 80%%")
    parser.add_argument("--for", dest="duration", metavar="DURATION", help="such as 30m or 2h")
    parser.add_argument("--clear", action="store_true", help="end the override on TARGET")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file: its broker and segments (default: %(default)s)",
    )
    parser.set_defaults(command=_override)


def _override(args: argparse.Namespace) -> int:
    """Publish an operator override to the site's broker: TARGET at LEVEL for DURATION (no
    --for: until cleared), or --clear. Exit 0 once the broker has it, 2 for a bad target,
    level or file, 1 when the broker cannot be reached."""
    try:
        settings = load_settings(args.config)
        message = _message(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    except ValueError as error:
        print(f"luciole override: {error}", file=sys.stderr)
        return EXIT_INVALID
    topology = topology_from_site(settings.site)
    if target_segments(args.target, topology, settings.policy) is None:
        why = unknown_target(args.target, topology, settings.policy)
        print(f"luciole override: {why}", file=sys.stderr)
        return EXIT_INVALID
    problem = check_credentials(settings.site.broker, settings.site_path.parent)
    if problem is not None:
        print(f"luciole override: {problem}", file=sys.stderr)
        return EXIT_INVALID
    topic = Topics(settings.site.broker.topic_prefix, settings.site.site.id).override(args.target)
    try:
        asyncio.run(_publish(settings, topic, message))
    except (MqttError, TimeoutError) as error:
        print(f"luciole override: broker {settings.site.broker.url}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"override sent on {topic}: {_describe(message)}")
    return EXIT_OK


def _message(args: argparse.Namespace) -> OverrideMessage:
    if args.clear:
        if args.level is not None or args.duration is not None:
            raise ValueError("--clear takes no LEVEL and no --for")
        return OverrideMessage(clear=True)
    if args.level is None:
        raise ValueError("give a LEVEL such as 80%, or --clear")
    level = parse_ratio(args.level)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"LEVEL must be between 0 and 100% (got {args.level!r})")
    duration_s = parse_duration_s(args.duration) if args.duration is not None else None
    if duration_s is not None and duration_s <= 0:
        raise ValueError(f"--for must be a positive duration (got {args.duration!r})")
    return OverrideMessage(level=level, duration_s=duration_s)


async def _publish(settings: Settings, topic: str, message: OverrideMessage) -> None:
    client = tool_client(settings.site.broker, settings.site_path.parent, "override")
    async with asyncio.timeout(PUBLISH_TIMEOUT_S), client:
        payload = message.model_dump_json(exclude_none=True, exclude_defaults=True)
        await client.publish(topic, payload, qos=1)


def _describe(message: OverrideMessage) -> str:
    if message.clear:
        return "cleared"
    assert message.level is not None
    until = f"for {message.duration_s:g} s" if message.duration_s else "until cleared"
    return f"level {message.level:.0%} {until}"
