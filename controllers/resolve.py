"""The policy made per segment: inheritance folded in, level specs turned into arrays.

Segments whose chain of overrides is the same (the defaults, the groups, the street and the
segment entries that apply to them) share one *combination*: its effective layer is merged
once, and the engine's per-segment arrays are filled from it. A site has a handful of
combinations; a million segments without overrides have one.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from controllers.classes import CLASS_NAMES
from controllers.levels import resolve
from controllers.settings.errors import did_you_mean
from controllers.settings.policy import LAYER_SECTIONS, Group, Layer, Policy
from controllers.settings.schedule import Schedule
from controllers.settings.types import KeyPath
from controllers.topology import BoolArray, Float32Array, FloatArray, IntArray, Topology


@dataclass(frozen=True, eq=False)
class TrafficRule:
    """One combination's traffic settings; `thresholds_per_h[k]` is NaN for unlisted classes."""

    enabled: bool
    hysteresis: float
    thresholds_per_h: FloatArray
    above_rated: bool


@dataclass(frozen=True, eq=False)
class Resolved:
    """Per-segment settings (arrays in topology order) and per-combination rules."""

    policy: Policy
    layers: tuple[Layer, ...]
    chains: tuple[tuple[KeyPath, ...], ...]
    combo_of: IntArray
    members: tuple[IntArray, ...]
    schedules: tuple[Schedule, ...]
    schedule_of_combo: tuple[int, ...]
    traffic: tuple[TrafficRule, ...]
    occupied_level: Float32Array
    ahead_level: Float32Array
    hold_s: FloatArray
    lookahead: IntArray
    fastest_walker_mps: FloatArray
    lead_s: FloatArray
    occupancy: BoolArray
    slowest_walker_mps: FloatArray
    learn_speeds: BoolArray
    ramp_up_s: Float32Array
    ramp_down_s: Float32Array
    floor: Float32Array
    max: Float32Array
    max_ramp_per_s: Float32Array
    failsafe_level: Float32Array
    stale_after_s: FloatArray

    @cached_property
    def same_ahead(self) -> bool:
        """True when the segments ahead get the occupied level (one presence timer is enough)."""
        return bool(np.array_equal(self.occupied_level, self.ahead_level))

    @cached_property
    def staggered(self) -> bool:
        """True when some segments ahead rise as a walker could reach them, not all at once."""
        return bool(np.isfinite(self.fastest_walker_mps).any())


def resolve_policy(policy: Policy, topology: Topology) -> Resolved:
    """Fold the overrides into one effective layer per combination and fill the arrays."""
    combo_of, chains = combinations(policy, topology)
    layers = tuple(merged(policy, [layer for _, layer in chain]) for chain in chains)
    members = _members(combo_of, len(layers))
    schedules: list[Schedule] = []
    keys: dict[str, int] = {}
    schedule_of_combo = []
    for layer in layers:
        key = layer.schedule.model_dump_json()
        if key not in keys:
            keys[key] = len(schedules)
            schedules.append(layer.schedule)
        schedule_of_combo.append(keys[key])
    arrays = _arrays(layers, members, topology)
    return Resolved(
        policy=policy,
        layers=layers,
        chains=tuple(tuple(path for path, _ in chain) for chain in chains),
        combo_of=combo_of,
        members=members,
        schedules=tuple(schedules),
        schedule_of_combo=tuple(schedule_of_combo),
        traffic=tuple(_traffic_rule(layer) for layer in layers),
        **arrays,
    )


Chain = list[tuple[KeyPath, Layer]]


def combinations(policy: Policy, topology: Topology) -> tuple[IntArray, list[Chain]]:
    """(combination of each segment, the override chain of each combination)."""
    patches = [(path, layer, covered(path, layer, topology)) for path, layer in policy.patches()]
    code = np.zeros(topology.size, dtype=np.int64)
    for _, _, mask in patches:
        if mask.any():
            code = code * 2 + mask
            _, code = np.unique(code, return_inverse=True)
    _, first, combo_of = np.unique(code, return_index=True, return_inverse=True)
    chains = [[(p, layer) for p, layer, mask in patches if mask[i]] for i in first.tolist()]
    return combo_of.astype(np.int64), chains


def covered(path: KeyPath, layer: Layer, topology: Topology) -> BoolArray:
    """The segments an override entry applies to (unknown names apply to nothing)."""
    kind, name = path[0], str(path[1])
    mask = np.zeros(topology.size, dtype=np.bool_)
    streets = list(layer.streets) if isinstance(layer, Group) else []
    segments = list(layer.segments) if isinstance(layer, Group) else []
    if kind == "streets":
        streets = [name]
    elif kind == "segments":
        segments = [name]
    codes = [topology.streets.index(s) for s in streets if s in topology.streets]
    mask |= np.isin(topology.street_of, codes)
    positions = topology.positions
    mask[[positions[s] for s in segments if s in positions]] = True
    return mask


def merged(policy: Policy, chain: list[Layer]) -> Layer:
    """The defaults with each override of the chain applied in turn (only the keys it sets)."""
    sections = {name: getattr(policy, name) for name in LAYER_SECTIONS}
    for patch in chain:
        for name in LAYER_SECTIONS:
            section = getattr(patch, name)
            if section.model_fields_set:
                update = {k: getattr(section, k) for k in section.model_fields_set}
                sections[name] = sections[name].model_copy(update=update)
    return Layer(**sections)


def set_by(resolved: Resolved, combo: int, section: str, key: str) -> KeyPath:
    """The key path that gave `section.key` its value in a combination (the last override of
    its chain that sets it, else the top level)."""
    for path in reversed(resolved.chains[combo]):
        patch = _patch_at(resolved.policy, path)
        if key in getattr(patch, section).model_fields_set:
            return (*path, section, key)
    return (section, key)


def _patch_at(policy: Policy, path: KeyPath) -> Layer:
    kind, name = path[0], str(path[1])
    if kind == "groups":
        return policy.groups[name]
    return policy.streets[name] if kind == "streets" else policy.segments[name]


def unknown_names(policy: Policy, topology: Topology) -> list[tuple[KeyPath, str]]:
    """Override entries naming streets or segments the site does not have, and groups named
    like a street or segment (an override target must mean one thing)."""
    found: list[tuple[KeyPath, str]] = []
    for name in policy.groups:
        if name in topology.streets or name in topology.positions or name == "all":
            message = f"a group cannot be named like a street or segment ({name!r})"
            found.append((("groups", name), message))
    streets, segments = topology.streets, topology.ids
    for name in policy.streets:
        if name not in streets:
            found.append((("streets", name), _unknown("street", name, streets)))
    for name in policy.segments:
        if name not in segments:
            found.append((("segments", name), _unknown("segment", name, segments)))
    for group_name, group in policy.groups.items():
        for index, street in enumerate(group.streets):
            if street not in streets:
                path: KeyPath = ("groups", group_name, "streets", index)
                found.append((path, _unknown("street", street, streets)))
        for index, segment in enumerate(group.segments):
            if segment not in segments:
                path = ("groups", group_name, "segments", index)
                found.append((path, _unknown("segment", segment, segments)))
    return found


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> str:
    return f"the site has no {kind} {name!r}{did_you_mean(name, known)}"


def _members(combo_of: IntArray, count: int) -> tuple[IntArray, ...]:
    order = np.argsort(combo_of, kind="stable")
    bounds = np.searchsorted(combo_of[order], np.arange(count + 1))
    return tuple(order[bounds[c] : bounds[c + 1]].astype(np.int64) for c in range(count))


def _arrays(
    layers: tuple[Layer, ...], members: tuple[IntArray, ...], topology: Topology
) -> dict[str, Any]:
    size = topology.size
    out: dict[str, Any] = {
        name: np.zeros(size, dtype=dtype) for name, dtype in _ARRAY_TYPES.items()
    }
    for layer, idx in zip(layers, members, strict=True):
        top = resolve(layer.limits.max, topology, idx)
        presence, limits, failsafe = layer.presence, layer.limits, layer.failsafe
        occupied = np.minimum(resolve(presence.level, topology, idx), top)
        ahead_spec = presence.ahead_level if presence.ahead_level is not None else presence.level
        values = {
            "occupied_level": occupied,
            "ahead_level": np.minimum(resolve(ahead_spec, topology, idx), top),
            "hold_s": presence.hold_s,
            "lookahead": presence.lookahead_segments,
            "fastest_walker_mps": presence.fastest_walker_mps or np.inf,
            "lead_s": presence.lead_s,
            "occupancy": presence.occupancy,
            "slowest_walker_mps": presence.slowest_walker_mps,
            "learn_speeds": presence.learn_speeds,
            "ramp_up_s": presence.ramp_up_s,
            "ramp_down_s": presence.ramp_down_s,
            "floor": resolve(limits.floor, topology, idx),
            "max": top,
            "max_ramp_per_s": limits.max_ramp_per_s or np.inf,
            "failsafe_level": np.minimum(resolve(failsafe.level, topology, idx), top),
            "stale_after_s": failsafe.stale_after_s or np.inf,
        }
        for name, value in values.items():
            out[name][idx] = value
    return out


_ARRAY_TYPES = {
    "occupied_level": np.float32,
    "ahead_level": np.float32,
    "hold_s": np.float64,
    "lookahead": np.int64,
    "fastest_walker_mps": np.float64,
    "lead_s": np.float64,
    "occupancy": np.bool_,
    "slowest_walker_mps": np.float64,
    "learn_speeds": np.bool_,
    "ramp_up_s": np.float32,
    "ramp_down_s": np.float32,
    "floor": np.float32,
    "max": np.float32,
    "max_ramp_per_s": np.float32,
    "failsafe_level": np.float32,
    "stale_after_s": np.float64,
}


def _traffic_rule(layer: Layer) -> TrafficRule:
    traffic = layer.traffic
    thresholds = np.full(len(CLASS_NAMES), np.nan)
    for name, per_h in traffic.classes.items():
        thresholds[CLASS_NAMES.index(name)] = per_h
    return TrafficRule(traffic.enabled, traffic.hysteresis, thresholds, traffic.above_rated)
