"""Districts: a city's segments split between daemons, one district each (`run --district`).

A district names streets and segments; its daemon serves those segments, the devices on
them and the override targets that reach them, under its own client id, spool and dead-letter
file, so two daemons share one broker without stepping on each other. Lighting state is
never shared between districts: a walker's detections reach the one controller that owns the
segment, and the lamps' watchdog is the safety net when a district's gateway dies.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from controllers.settings.errors import did_you_mean
from controllers.settings.types import STRICT, Identifier

if TYPE_CHECKING:
    from controllers.settings.site import Device, SiteConfig

KeyPath = tuple[str | int, ...]


class District(BaseModel):
    """One district's share of the site, and the ports its daemon serves on."""

    model_config = STRICT
    streets: list[Identifier] = Field(default=[], description="every segment of these streets")
    segments: list[Identifier] = Field(default=[], description="and these segments")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="this district's /metrics (default: none)"
    )
    console_port: int | None = Field(
        default=None, ge=1, le=65535, description="this district's console (default: none)"
    )


@dataclass(frozen=True)
class DistrictView:
    """What a district's daemon knows of the rest of the city: the devices and the override
    targets that belong to other districts, which it leaves to them without a refusal."""

    name: str
    foreign_devices: "dict[str, Device]"
    foreign_targets: frozenset[str]


def members(site: "SiteConfig", district: District) -> set[str]:
    """The segment ids a district covers."""
    streets = set(district.streets)
    return {s.id for s in site.segments if s.street in streets} | set(district.segments)


def district_problems(site: "SiteConfig") -> list[tuple[KeyPath, str]]:
    """Names the site lacks, segments in two districts, segments in none."""
    if not site.districts:
        return []
    ids = [s.id for s in site.segments]
    streets = sorted({s.street for s in site.segments})
    found: list[tuple[KeyPath, str]] = []
    owner: dict[str, str] = {}
    for name, district in site.districts.items():
        found += _unknown(("districts", name, "streets"), district.streets, streets, "street")
        found += _unknown(("districts", name, "segments"), district.segments, ids, "segment")
        for segment in sorted(members(site, district) & set(ids)):
            if segment in owner and owner[segment] != name:
                message = f"segment {segment!r} is already in district {owner[segment]!r}"
                found.append((("districts", name), message))
            owner.setdefault(segment, name)
    orphans = [i for i in ids if i not in owner]
    if orphans:
        shown = ", ".join(orphans[:5]) + (" …" if len(orphans) > 5 else "")
        message = (
            f"{len(orphans)} segment(s) in no district ({shown}): no district's daemon would "
            "light them; add their streets or segments to a district"
        )
        found.append((("districts",), message))
    return found


def _unknown(
    path: KeyPath, names: list[str], known: list[str], kind: str
) -> list[tuple[KeyPath, str]]:
    return [
        ((*path, index), f"the site has no {kind} {name!r}{did_you_mean(name, known)}")
        for index, name in enumerate(names)
        if name not in known
    ]


def unknown_district(site: "SiteConfig", name: str) -> str | None:
    """Why `name` cannot be served (None: it can)."""
    if not site.districts:
        return (
            f"the site file has no districts: run without --district, or add districts: ({name!r})"
        )
    if name not in site.districts:
        known = list(site.districts)
        return f"no district {name!r}{did_you_mean(name, known)}; the site has {', '.join(known)}"
    return None


def district_site(site: "SiteConfig", name: str) -> "tuple[SiteConfig, DistrictView]":
    """The site as district `name`'s daemon serves it (a checked name: `unknown_district`)."""
    district = site.districts[name]
    own = members(site, district)
    segments = [s for s in site.segments if s.id in own]
    devices = {d: dev for d, dev in site.devices.items() if dev.segment in own}
    junctions = {
        j: kept for j, m in site.junctions.items() if len(kept := [s for s in m if s in own]) > 1
    }
    console = site.console
    if console is not None and district.console_port is not None:
        console = console.model_copy(update={"port": district.console_port})
    elif console is not None:
        console = None  # two districts cannot share one port: each names its own
    served = site.model_copy(
        update={
            "segments": segments,
            "devices": devices,
            "junctions": junctions,
            "districts": {},
            "broker": site.broker.model_copy(
                update={"client_id": f"{site.broker.client_id}-{name}"}
            ),
            "spool_path": suffixed(site.spool_path, name),
            "deadletter_path": suffixed(site.deadletter_path, name),
            "metrics_port": district.metrics_port,
            "console": console,
        }
    )
    own_streets = {s.street for s in segments}
    foreign = {s.id for s in site.segments if s.id not in own} | {
        s.street for s in site.segments if s.street not in own_streets
    }
    others = {d: dev for d, dev in site.devices.items() if d not in devices}
    return served, DistrictView(name, others, frozenset(foreign))


def suffixed(path: str, tag: str) -> str:
    """`spool/luciole.db` for district or worker `tag`: `spool/luciole-{tag}.db`."""
    pure = PurePosixPath(path)
    return str(pure.with_name(f"{pure.stem}-{tag}{pure.suffix}"))
