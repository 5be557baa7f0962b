"""Ordering a street's lamps and cutting the street into segments, for `luciole import-lamps`:
the plan (`plan_segments`), the `segments:` YAML of a site file, and the summary told on stderr.
The lamps come from `luciole.inventory`, which reads the inventory.

Lamps are grouped by street (by the street's slug, so two spellings of one name that differ
only in accents, case or punctuation are one street) and ordered along it: each street's
points are converted to local metres (an equirectangular projection around the street's mean
latitude: east = R·Δlon·cos(lat₀), north = R·Δlat, good to a fraction of a metre over a few
kilometres) and projected on the street's principal axis (PCA: the eigenvector of the largest
eigenvalue of their covariance). The axis points east for a street that runs more east-west
than north-south, north otherwise, so order 1 is the western (or southern) end. A street that
bends strongly (an L, a U) is not a line: its lamps are still ordered along its main axis, and
the summary names it so that it can be split in the inventory (one street name per leg).

Each lamp lights the stretch from the midpoint with the lamp before it to the midpoint with the
one after (at a street's ends, half the gap to its neighbour on the outer side too), so a
segment's `length_m` is the sum of its lamps' stretches: four lamps 30 m apart make 120 m. A
street is cut into segments of N consecutive lamps, or of about L metres (a lamp joins the
segment while that brings its length closer to L).
"""

import itertools
import json
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:
    from luciole.inventory import Lamp, Reading

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
MIN_LENGTH_M = 10.0
DEFAULT_POWER_W = 40.0
DEFAULT_CLASS = "P4"
IDENTIFIER_MAX = 64
# A street's slug leaves room in its segments' ids for `-` and up to 5 digits.
STREET_MAX = IDENTIFIER_MAX - 6
# A street whose lamps stand further than this (RMS) from its main axis bends: say so.
BEND_RMS_M = 25.0
SHOWN = 5  # ids shown per list in the summary


@dataclass(frozen=True)
class SegmentPlan:
    """One segment to write, with the lamps it holds (in order along the street)."""

    id: str
    street: str
    order: int
    length_m: float
    lamp_ids: tuple[str, ...]
    rated_power_w: float
    lighting_class: str
    start: tuple[float, float]  # (lat, lon) of its first lamp
    end: tuple[float, float]  # (lat, lon) of its last lamp
    without_power: int  # lamps whose power the inventory did not give


@dataclass(frozen=True)
class Plan:
    segments: list[SegmentPlan]
    bent_streets: list[str]
    merged_spellings: dict[str, list[str]]  # slug -> the names merged into it

    @property
    def lamps(self) -> int:
        return sum(len(s.lamp_ids) for s in self.segments)

    @property
    def streets(self) -> int:
        return len({s.street for s in self.segments})


# --- planning ------------------------------------------------------------------------------


def slugify(name: str, max_length: int = STREET_MAX) -> str:
    """An Identifier for a street name: accents to ASCII, lower case, words joined by `-`.
    A name with no ASCII letter or digit at all gets `street-` and a checksum of it."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        slug = f"street-{zlib.crc32(name.encode()):08x}"
    return slug[:max_length].rstrip("-")


def plan_segments(
    lamps: "Sequence[Lamp]", per_segment: int | None = None, length_m: float | None = None
) -> Plan:
    """The segments of every street, streets in the order they first appear. Cut into
    `per_segment` lamps (default 4), or into about `length_m` metres when that is given."""
    if length_m is None and per_segment is None:
        per_segment = 4
    streets: dict[str, list[Lamp]] = {}
    spellings: dict[str, dict[str, None]] = {}
    for lamp in lamps:
        slug = slugify(lamp.street)
        streets.setdefault(slug, []).append(lamp)
        spellings.setdefault(slug, {})[lamp.street] = None
    segments: list[SegmentPlan] = []
    bent: list[str] = []
    for slug, members in streets.items():
        ordered, positions, off_axis_rms = order_along_street(members)
        if off_axis_rms > BEND_RMS_M:
            bent.append(slug)
        stretches = _stretches(positions)
        groups = (
            _by_length(stretches, length_m)
            if length_m is not None
            else _by_count(len(ordered), per_segment or 4)
        )
        width = max(2, len(str(len(groups))))
        for number, (first, stop) in enumerate(groups, 1):
            segments.append(
                _segment(
                    f"{slug}-{number:0{width}d}",
                    slug,
                    number,
                    ordered[first:stop],
                    sum(stretches[first:stop]),
                )
            )
    merged = {s: list(names) for s, names in spellings.items() if len(names) > 1}
    return Plan(segments, bent, merged)


def order_along_street(lamps: "Sequence[Lamp]") -> "tuple[list[Lamp], list[float], float]":
    """The lamps in order along the street's principal axis, their positions on it (metres
    from the first), and how far (RMS, metres) they stand from that axis."""
    lat0 = math.radians(sum(lamp.latitude for lamp in lamps) / len(lamps))
    lon0 = sum(lamp.longitude for lamp in lamps) / len(lamps)
    # Equirectangular around the mean latitude: metres east and north of the mean point.
    east = np.radians([lamp.longitude - lon0 for lamp in lamps]) * math.cos(lat0)
    north = np.radians([lamp.latitude for lamp in lamps]) - lat0
    points = np.column_stack([east, north]) * EARTH_RADIUS_M
    axis = np.array([1.0, 0.0])
    off_axis_rms = 0.0
    if len(lamps) > 1:
        values, vectors = np.linalg.eigh(np.cov(points, rowvar=False, bias=True))
        axis = vectors[:, int(np.argmax(values))]
        if axis[int(np.argmax(np.abs(axis)))] < 0:
            axis = -axis  # east for an east-west street, north for a north-south one
        off_axis_rms = math.sqrt(max(float(np.min(values)), 0.0))
    along = points @ axis
    order = sorted(range(len(lamps)), key=lambda i: (float(along[i]), i))
    start = float(along[order[0]])
    return [lamps[i] for i in order], [float(along[i]) - start for i in order], off_axis_rms


def _stretches(positions: Sequence[float]) -> list[float]:
    """The stretch of street each lamp lights: midpoint to midpoint with its neighbours; at an
    end, as far on the outer side as on the inner one."""
    gaps = [b - a for a, b in itertools.pairwise(positions)]
    if not gaps:
        return [0.0] * len(positions)
    before = [gaps[0], *gaps]
    after = [*gaps, gaps[-1]]
    return [(b + a) / 2 for b, a in zip(before, after, strict=True)]


def _by_count(count: int, per_segment: int) -> list[tuple[int, int]]:
    return [(first, min(first + per_segment, count)) for first in range(0, count, per_segment)]


def _by_length(stretches: Sequence[float], target_m: float) -> list[tuple[int, int]]:
    """Consecutive runs of lamps of about target_m: a lamp joins the current run while that
    brings the run's length closer to the target (that is, while the run is shorter than the
    target by more than half the lamp's stretch)."""
    groups: list[tuple[int, int]] = []
    first, length = 0, 0.0
    for index, stretch in enumerate(stretches):
        if index > first and length + stretch / 2 > target_m:
            groups.append((first, index))
            first, length = index, 0.0
        length += stretch
    groups.append((first, len(stretches)))
    return groups


def _segment(
    segment_id: str, street: str, order: int, lamps: "Sequence[Lamp]", length: float
) -> SegmentPlan:
    powers = [lamp.power_w for lamp in lamps if lamp.power_w is not None]
    classes = Counter(lamp.lighting_class for lamp in lamps if lamp.lighting_class)
    top = max(classes.values(), default=0)
    # The most common class; a tie goes to the brighter one (P1 is the brightest).
    lighting_class = min((c for c, n in classes.items() if n == top), default=DEFAULT_CLASS)
    return SegmentPlan(
        id=segment_id,
        street=street,
        order=order,
        length_m=round(max(length, MIN_LENGTH_M), 1),
        lamp_ids=tuple(lamp.id for lamp in lamps),
        rated_power_w=round(sum(powers) / len(powers), 1) if powers else DEFAULT_POWER_W,
        lighting_class=lighting_class,
        start=(lamps[0].latitude, lamps[0].longitude),
        end=(lamps[-1].latitude, lamps[-1].longitude),
        without_power=len(lamps) - len(powers),
    )


# --- writing -------------------------------------------------------------------------------


def segments_yaml(plan: Plan, source: str) -> str:
    """The `segments:` list, one flow mapping per segment as in config/site.yaml, with where
    it starts and ends (`start`, `end`: [latitude, longitude])."""
    lines = [
        f"# {len(plan.segments)} segment(s) of {plan.lamps} lamp(s) on {plan.streets} street(s),"
        f" from {source} (luciole import-lamps).",
        "# Order along each street: projected on its main axis, from its west (or south) end.",
        "segments:",
    ]
    for segment in plan.segments:
        fields = (
            f"id: {_scalar(segment.id)}, street: {_scalar(segment.street)},"
            f" order: {segment.order}, length_m: {segment.length_m:g},"
            f" lamps: {len(segment.lamp_ids)}, rated_power_w: {segment.rated_power_w:g},"
            f" lighting_class: {segment.lighting_class}"
        )
        (lat1, lon1), (lat2, lon2) = segment.start, segment.end
        where = f"start: [{lat1:.6f}, {lon1:.6f}], end: [{lat2:.6f}, {lon2:.6f}]"
        lines.append(f"  - {{{fields}, {where}}}")
    return "\n".join(lines) + "\n"


def _scalar(text: str) -> str:
    """A string as a YAML scalar: bare when YAML reads it back as that string, else quoted
    (a street slugged `2` or `null` would otherwise be read as a number or nothing)."""
    return text if yaml.safe_load(text) == text else json.dumps(text)


def summary(reading: "Reading", plan: Plan) -> list[str]:
    """The lines told on stderr: what was made, and what was left out or assumed."""
    lines = [
        f"{plan.streets} street(s), {plan.lamps} lamp(s), {len(plan.segments)} segment(s)",
    ]
    if reading.without_street:
        lines.append(
            f"skipped {len(reading.without_street)} lamp(s) without a street:"
            f" {_first(reading.without_street)}"
        )
    if reading.without_coordinates:
        lines.append(
            f"skipped {len(reading.without_coordinates)} lamp(s) without coordinates:"
            f" {_first(reading.without_coordinates)}"
        )
    unpowered = sum(s.without_power for s in plan.segments)
    if unpowered:
        lines.append(
            f"{unpowered} lamp(s) without a power: their segment's mean power, or"
            f" {DEFAULT_POWER_W:g} W where none is known (check rated_power_w)"
        )
    duplicates = [i for i, n in Counter(lamp.id for lamp in reading.lamps).items() if n > 1]
    if duplicates:
        lines.append(f"{len(duplicates)} lamp id(s) appear more than once: {_first(duplicates)}")
    for slug, names in plan.merged_spellings.items():
        lines.append(f"street {slug}: one street for {', '.join(repr(n) for n in names)}")
    if plan.bent_streets:
        lines.append(
            f"{len(plan.bent_streets)} street(s) bend, ordered along their main axis (check"
            f" them, or give each leg its own street name): {_first(plan.bent_streets)}"
        )
    return lines


def _first(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
