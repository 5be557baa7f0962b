"""`luciole decode` and `luciole export`: the operator's tools that need no broker."""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from controllers.settings import ConfigError
from gateway.config import Settings, load_settings
from gateway.store.export import export, parse_when
from gateway.store.spool import Spool
from luciole.decode import NO_READING_YET, DecodeRequest, decode

EXIT_OK, EXIT_INVALID = 0, 2


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    """Add the two commands to the `luciole` parser."""
    decode = sub.add_parser(
        "decode",
        help="show what a payload yields, or why it is refused",
        description=doc(_decode_command),
    )
    decode.add_argument("file", metavar="FILE", help="the payload, or - for standard input")
    decode.add_argument(
        "--format", help="native, chirpstack, tts, senml or wmbusmeters (default: by its shape)"
    )
    decode.add_argument("--codec", help="vendor codec for LoRaWAN bytes, e.g. milesight-vs133")
    decode.add_argument("--topic", help="the MQTT topic it came on (routes it with --config)")
    decode.add_argument("--config", type=Path, help="site file: also check the device registry")
    decode.set_defaults(command=_decode_command)

    export = sub.add_parser(
        "export", help="dump readings from the local spool", description=doc(_export_command)
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
    export.set_defaults(command=_export_command)


def doc(function: object) -> str:
    """A command's docstring, as its `--help` description."""
    return (getattr(function, "__doc__", "") or "").strip()


def _decode_command(args: argparse.Namespace) -> int:
    """Decode one payload as the gateway would: readings as JSON lines on stdout (exit 0), or
    the reason it is refused on stderr (exit 2), with what the device said when no reading
    came of it. Without --config the device check is skipped; without --format the payload's
    shape picks one (ChirpStack, The Things Stack, SenML, wmbusmeters or native), said on
    stderr.
    """
    try:
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        site = load_settings(args.config).site if args.config else None
    except OSError as error:
        print(f"luciole decode: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    outcome = decode(DecodeRequest(payload, args.format, args.codec, args.topic, site))
    if outcome.guessed is not None:
        print(
            f"luciole decode: read as {outcome.guessed.format}, from its shape"
            f" ({outcome.guessed.why}); --format picks another",
            file=sys.stderr,
        )
    for row in outcome.rows:
        print(json.dumps(row, ensure_ascii=False))
    # One line each, so that scripts can read the reason; what the device said goes with it.
    held = "" if outcome.said is None else f"; it said: {json.dumps(outcome.said)}"
    if outcome.rejection is not None:
        rejection = outcome.rejection
        print(f"refused: {rejection.reason}: {rejection.detail}{held}", file=sys.stderr)
        return EXIT_INVALID
    if not outcome.rows:
        print(f"luciole decode: accepted, {NO_READING_YET}{held}", file=sys.stderr)
    return EXIT_OK


def _export_command(args: argparse.Namespace) -> int:
    """Write the readings of the local spool in [since, until) as InfluxDB line protocol or
    CSV (one row per field), whether or not they reached a database."""
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


def has_spool(settings: Settings, command: str) -> bool:
    """Whether the daemon of `settings` has made its spool yet; if not, says so on stderr."""
    if settings.spool_path.exists():
        return True
    print(
        f"luciole {command}: no spool at {settings.spool_path} yet: has `luciole run` "
        "started with this site file?",
        file=sys.stderr,
    )
    return False
