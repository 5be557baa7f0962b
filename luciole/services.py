"""`luciole bins due` and `luciole water leaks`: what the city services say now.

Both read the state the daemon stores in its spool (they can run beside it: SQLite lets a
reader in while the daemon writes) and rebuild the lists from it with the site's rules, so
they say what the daemon would publish at this moment.
"""

import argparse
import csv
import json
import math
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controllers.settings import ConfigError
from controllers.units import parse_duration_s
from gateway.config import load_settings
from gateway.services.city import ALERTS_ROOM, CityServices
from gateway.services.lists import ActiveLeak, DueBin
from gateway.store.spool import Spool
from luciole.files import EXIT_INVALID, EXIT_OK, doc, has_spool


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    """Add `bins` and `water` to the `luciole` parser."""
    bins = sub.add_parser("bins", help="waste bins: the collection list", description=doc(_due))
    bins_sub = bins.add_subparsers(title="commands", metavar="COMMAND", required=True)
    due = bins_sub.add_parser("due", help="bins to collect now", description=doc(_due))
    _config(due)
    due.add_argument(
        "--within",
        default=None,
        help="horizon such as 24h or 2d (default: the policy's bins.due_within_s)",
    )
    due.add_argument("--format", dest="fmt", choices=["table", "csv", "geojson"], default="table")
    due.set_defaults(command=_due)
    water = sub.add_parser("water", help="water meters: leaks", description=doc(_leaks))
    water_sub = water.add_subparsers(title="commands", metavar="COMMAND", required=True)
    leaks = water_sub.add_parser("leaks", help="active leaks", description=doc(_leaks))
    _config(leaks)
    leaks.add_argument("--format", dest="fmt", choices=["table", "csv", "json"], default="table")
    leaks.set_defaults(command=_leaks)


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/site.yaml"),
        help="site file, to find its spool (default: %(default)s)",
    )


def _services(args: argparse.Namespace, command: str) -> CityServices | None:
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None
    city = CityServices(settings.site, settings.policy)
    if not has_spool(settings, command):
        return None
    spool = Spool(settings.spool_path)
    try:
        city.restore({room: spool.state(room) for room in ("bins", "water", ALERTS_ROOM)})
    finally:
        spool.close()
    return city


def _due(args: argparse.Namespace) -> int:
    """The bins to collect: urgent (full, or forecast full within the horizon) and on the way
    (forecast full within twice the horizon), each with its fill, forecast and reason, from
    the state the daemon stored. As a table, CSV, or GeoJSON (points where the registry gives
    a bin's latitude and longitude, no geometry otherwise) for a routing tool."""
    try:
        within_s = None if args.within is None else parse_duration_s(args.within)
    except ValueError as error:
        print(f"luciole bins due: --within: {error}", file=sys.stderr)
        return EXIT_INVALID
    city = _services(args, "bins due")
    if city is None:
        return EXIT_INVALID
    listed = city.due(time.time(), within_s)
    if args.fmt == "csv":
        _csv([d.as_dict() for d in listed])
    elif args.fmt == "geojson":
        print(json.dumps(_geojson(listed), indent=2))
    else:
        _due_table(listed, city.bins.size, city.zone)
    return EXIT_OK


def _due_table(listed: list[DueBin], bins: int, zone: ZoneInfo) -> None:
    print(f"{'bin':<16} {'segment':<16} {'urgency':<11} {'fill':>5}  {'forecast full':<17} reason")
    for d in listed:
        fill = "" if d.fill is None else f"{d.fill:.0%}"
        when = "" if d.forecast_full_s is None else _local(d.forecast_full_s, zone)
        print(f"{d.device:<16} {d.segment:<16} {d.urgency:<11} {fill:>5}  {when:<17} {d.reason}")
    urgent = sum(d.urgency == "urgent" for d in listed)
    print(f"{urgent} urgent, {len(listed) - urgent} on the way, of {bins} bins", file=sys.stderr)


def _geojson(listed: list[DueBin]) -> dict[str, object]:
    def geometry(d: DueBin) -> dict[str, object] | None:
        if d.latitude is None or d.longitude is None:
            return None
        return {"type": "Point", "coordinates": [d.longitude, d.latitude]}

    features = [
        {"type": "Feature", "geometry": geometry(d), "properties": d.as_dict()} for d in listed
    ]
    return {"type": "FeatureCollection", "features": features}


def _leaks(args: argparse.Namespace) -> int:
    """The active leaks (a meter with no hour without flow for a day, the Kamstrup rule): since
    when, at what rate, the volume lost so far and its cost at the site's price per m³; then
    the last night's flow (the minimum hour between the policy's night hours) per street."""
    city = _services(args, "water leaks")
    if city is None:
        return EXIT_INVALID
    leaks = city.leaks(time.time())
    if args.fmt == "csv":
        _csv([leak.as_dict() for leak in leaks])
    elif args.fmt == "json":
        print(
            json.dumps(
                {"leaks": [leak.as_dict() for leak in leaks], "night_flow_l_h": _night(city)}
            )
        )
    else:
        _leak_table(leaks, city)
    return EXIT_OK


def _leak_table(leaks: list[ActiveLeak], city: CityServices) -> None:
    print(
        f"{'meter':<16} {'segment':<16} {'since':<17} {'rate L/h':>9} {'lost m³':>8} {'cost':>12}"
    )
    for leak in leaks:
        cost = "" if leak.cost is None else f"{leak.cost:.2f} {leak.currency}"
        print(
            f"{leak.device:<16} {leak.segment:<16} {_local(leak.since_s, city.zone):<17} "
            f"{leak.rate_m3h * 1000:>9.1f} {leak.volume_m3:>8.3f} {cost:>12}"
        )
    print(f"{len(leaks)} active leak(s) among {city.meters.size} meters", file=sys.stderr)
    night = _night(city)
    if night:
        print("\nnight flow by street (last night's minimum hour, L/h):")
        for street, litres in sorted(night.items()):
            print(f"  {street:<24} {litres:>8.1f}")


def _night(city: CityServices) -> dict[str, float]:
    """The night flow summed per street (meters with a known night flow only)."""
    street_of = {s.id: s.street for s in city.site.segments}
    flows = city.water_state.night_flow_m3h()
    found: dict[str, float] = defaultdict(float)
    for index, device in enumerate(city.meters.devices):
        value = float(flows[index])
        if math.isfinite(value):
            found[street_of.get(device.segment, device.segment)] += value * 1000.0
    return {street: round(litres, 1) for street, litres in found.items()}


def _csv(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _local(epoch_s: float, zone: ZoneInfo) -> str:
    """A time at the site, as its people read it."""
    return datetime.fromtimestamp(epoch_s, zone).strftime("%Y-%m-%d %H:%M")
