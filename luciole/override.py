"""`luciole override TARGET LEVEL --for 30m` and `luciole override TARGET --clear`.

The command checks the target against the site and its policy (segment, street, group or
`all`), then publishes the override on the site's broker with QoS 1 and waits for the broker
to take it; the daemon applies it on receipt. Not retained: a duration counts from when the
daemon receives the message, so an old retained override must not come back after a restart.
Every override carries a unique `id` and its time `ts`; with `--sender` it is signed with that
sender's key (README, "Who may override"), which a site that names senders requires.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from controllers.settings import ConfigError
from controllers.settings.errors import did_you_mean
from controllers.settings.site import OverrideSender
from controllers.targets import target_segments, unknown_target
from controllers.topology import topology_from_site
from controllers.units import parse_duration_s, parse_ratio
from gateway.config import Settings, load_settings
from gateway.lighting.authority import KeyUnavailableError, read_key
from gateway.mqtt.client import MqttError, check_credentials, tool_client
from gateway.wire.payloads import OverrideMessage
from gateway.wire.signing import sign
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
        "--sender", metavar="NAME", help="sign as this sender (of the site's overrides.senders)"
    )
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key-env", metavar="VAR", help="the sender's key is in this variable")
    keys.add_argument("--key-file", metavar="FILE", type=Path, help="the sender's key file")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file: its broker and segments (default: %(default)s)",
    )
    parser.set_defaults(command=_override)


def _override(args: argparse.Namespace) -> int:
    """Publish an operator override to the site's broker: TARGET at LEVEL for DURATION (no
    --for, or a longer one: the policy's overrides.max_duration_s), or --clear; signed with
    --sender NAME and its key (from --key-env, --key-file or the site's entry for NAME). Exit
    0 once the broker has it, 2 for a bad target, level, key or file, 1 when the broker cannot
    be reached."""
    try:
        settings = load_settings(args.config)
        message = _message(args)
        key = _key(args, settings)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    except (ValueError, KeyUnavailableError) as error:
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
    payload = payload_of(message, topic, args.sender, key, time.time())
    try:
        asyncio.run(_publish(settings, topic, payload))
    except (MqttError, TimeoutError) as error:
        print(f"luciole override: broker {settings.site.broker.url}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    most_s = settings.policy.overrides.max_duration_s
    print(f"override sent on {topic}: {_describe(message, most_s, args.sender)}")
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


def _key(args: argparse.Namespace, settings: Settings) -> bytes | None:
    """The key to sign with (None: send unsigned), from the options or the site's entry."""
    senders = settings.site.overrides.senders
    given = args.key_env is not None or args.key_file is not None
    if args.sender is None:
        if given:
            raise ValueError("--key-env and --key-file sign as a --sender NAME: give it")
        if senders:
            names = ", ".join(sorted(senders))
            raise ValueError(f"this site takes only signed overrides: give --sender ({names})")
        return None
    if senders and args.sender not in senders:
        hint = did_you_mean(args.sender, set(senders))
        raise ValueError(f"the site names no override sender {args.sender!r}{hint}")
    if given:
        key_file = str(args.key_file) if args.key_file is not None else None
        source = OverrideSender(key_env=args.key_env, key_file=key_file)
        return read_key(args.sender, source, Path.cwd())
    if args.sender not in senders:
        raise ValueError(f"the site names no sender {args.sender!r}: give --key-env or --key-file")
    return read_key(args.sender, senders[args.sender], settings.site_path.parent)


def payload_of(
    message: OverrideMessage, topic: str, sender: str | None, key: bytes | None, now_s: float
) -> str:
    """The JSON to publish: the override, a unique id, its time and, with a key, the
    sender and the signature over all of it and the topic."""
    fields = message.model_dump(exclude_none=True, exclude_defaults=True)
    fields |= {"id": uuid.uuid4().hex, "ts": round(now_s, 3)}
    if sender is not None and key is not None:
        fields = sign(key, topic, {**fields, "sender": sender})
    return json.dumps(fields)


async def _publish(settings: Settings, topic: str, payload: str) -> None:
    client = tool_client(settings.site.broker, settings.site_path.parent, "override")
    async with asyncio.timeout(PUBLISH_TIMEOUT_S), client:
        await client.publish(topic, payload, qos=1)


def _describe(message: OverrideMessage, most_s: float, sender: str | None) -> str:
    signed = f", signed by {sender}" if sender is not None else ""
    if message.clear:
        return f"cleared{signed}"
    assert message.level is not None
    asked_s = message.duration_s
    if asked_s is None:
        until = f"for {most_s:g} s (the policy's maximum)"
    elif asked_s > most_s:
        until = f"for {most_s:g} s (the policy's maximum; {asked_s:g} s asked)"
    else:
        until = f"for {asked_s:g} s"
    return f"level {message.level:.0%} {until}{signed}"
