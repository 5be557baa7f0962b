"""`luciole status`: what the daemon of a site has stored and learnt, read from its spool.

Like `luciole bins due`, it reads the spool beside a running daemon (SQLite lets a reader in
while the daemon writes) and rebuilds the lighting's state with the site's own rules: the
readings waiting for the database, the overrides in force, and the walking speeds learnt per
street (with `presence.learn_speeds`), as the daemon would use them now.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from controllers.settings import ConfigError
from controllers.speeds import Learnt
from gateway.config import ROLES, Settings, load_settings
from gateway.lighting import persist
from gateway.lighting.control import Lighting
from gateway.store.spool import Spool
from luciole.files import EXIT_INVALID, EXIT_OK, doc, has_spool


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    """Add `status` to the `luciole` parser."""
    status = sub.add_parser(
        "status", help="what the daemon stored and learnt", description=doc(_status)
    )
    status.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file, to find its spool (default: %(default)s)",
    )
    status.add_argument("--district", metavar="NAME", help="the spool of this district's daemon")
    status.add_argument(
        "--role", choices=ROLES, default="all", help="the spool of a daemon of this role"
    )
    status.add_argument("--worker", type=int, default=1, metavar="N", help="(with --role ingest)")
    status.add_argument("--format", dest="fmt", choices=["table", "json"], default="table")
    status.set_defaults(command=_status)


def _status(args: argparse.Namespace) -> int:
    """The spool's readings (stored, waiting for the database), the overrides in force and
    the walking speeds learnt per street, from the state the daemon stored."""
    try:
        settings = load_settings(args.config, args.role, args.district, args.worker)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    if not has_spool(settings, "status"):
        return EXIT_INVALID
    found = _read(settings, time.time())
    if args.fmt == "json":
        print(json.dumps(found, indent=2))
    else:
        _table(found)
    return EXIT_OK


def _read(settings: Settings, now_s: float) -> dict[str, Any]:
    lighting = Lighting(settings.site, settings.policy, now_s)
    spool = Spool(settings.spool_path)
    try:
        stored = spool.state(persist.ROOM)
        stats = spool.stats()
    finally:
        spool.close()
    persist.restore(lighting, stored, now_s)
    persist.restore_speeds(lighting, stored)
    segments, levels, until_s = lighting.engine.overrides(now_s)
    ids = lighting.topology.ids
    occupancy = lighting.engine.occupancy
    return {
        "site": settings.site.site.id,
        "spool": str(settings.spool_path),
        "database": settings.site.influx.url if settings.site.influx else None,
        "readings": {"stored": stats.rows, "unwritten": stats.unwritten},
        "overrides": [
            {"segment": ids[int(i)], "level": round(float(v), 3), "until": float(u)}
            for i, v, u in zip(segments, levels, until_s, strict=True)
        ],
        "speeds": None if occupancy is None else [_speed(s) for s in occupancy.speeds.report()],
    }


def _speed(learnt: Learnt) -> dict[str, Any]:
    return {
        "street": learnt.street,
        "samples": learnt.samples,
        "fast_mps": None if learnt.fast_mps is None else round(learnt.fast_mps, 2),
        "slow_mps": None if learnt.slow_mps is None else round(learnt.slow_mps, 2),
    }


def _table(found: dict[str, Any]) -> None:
    readings = found["readings"]
    waiting = (
        f"{readings['unwritten']:,} waiting for the database"
        if found["database"]
        else "no database configured: they stay here (`luciole export`)"
    )
    print(
        f"site {found['site']}, spool {found['spool']}: {readings['stored']:,} readings, {waiting}"
    )
    overrides = found["overrides"]
    print(f"\noverrides in force: {len(overrides)}")
    for o in overrides:
        left_min = max(0.0, (o["until"] - time.time()) / 60)
        print(f"  {o['segment']:<24} {o['level']:>5.0%}  {left_min:,.0f} min left")
    speeds = found["speeds"]
    if speeds is None:
        print("\nlearnt walking speeds: none (the policy has no presence.occupancy)")
        return
    print("\nlearnt walking speeds (m/s; '-': too few walkers yet, the policy's values apply)")
    print(f"  {'street':<24} {'walkers':>7} {'fast':>6} {'slow':>6}")
    for s in speeds:
        fast = "-" if s["fast_mps"] is None else f"{s['fast_mps']:.2f}"
        slow = "-" if s["slow_mps"] is None else f"{s['slow_mps']:.2f}"
        print(f"  {s['street']:<24} {s['samples']:>7} {fast:>6} {slow:>6}")
