"""Policies that are legal but unwise, for `luciole check-config` to warn about.

They need the site (photometry, segment lengths), so they are checked with both files:
- a floor below the lowest class (P6) on a segment: while lit, the street can be darker than
  any EN 13201 class;
- a floor that needs more than the maximum (the maximum wins);
- an occupied level below the segment's rated class: walkers get less than the street's
  standard;
- a hold shorter than the time a walker needs to cross a segment at 1.4 m/s: the light can
  go down before they are through;
- with occupancy, a slowest walker of 1 m/s or more: a zone gives up on a walker who stops, or
  walks slowly, while they are still in it;
- learnt speeds without occupancy: nothing learns them (they come from the zones' counts).
Each warning names the key that set the value (the top level, a group, a street or a segment).
"""

from collections.abc import Callable

from controllers.classes import AVERAGE_LUX, QUIETEST
from controllers.levels import describe
from controllers.resolve import Resolved, resolve_policy, set_by
from controllers.settings.policy import Layer, Policy
from controllers.settings.types import KeyPath
from controllers.topology import BoolArray, IntArray, Topology

WALKING_SPEED_M_S = 1.4
_EPSILON = 1e-6
_EXAMPLES = 3

Rule = Callable[[Resolved, Topology, Layer, IntArray], tuple[str, str, BoolArray, str]]


def advice(policy: Policy, topology: Topology) -> list[tuple[KeyPath, str]]:
    """(key path, warning) pairs, one per rule and key that set the unwise value."""
    resolved = resolve_policy(policy, topology)
    found: dict[KeyPath, tuple[str, set[int]]] = {}
    for combo, (layer, members) in enumerate(zip(resolved.layers, resolved.members, strict=True)):
        for rule in RULES:
            section, key, bad, message = rule(resolved, topology, layer, members)
            if bad.any():
                path = set_by(resolved, combo, section, key)
                _, segments = found.setdefault(path, (message, set()))
                segments.update(members[bad].tolist())
    return [(path, _with_examples(m, s, topology)) for path, (m, s) in found.items()]


def _with_examples(message: str, segments: set[int], topology: Topology) -> str:
    names = [topology.ids[i] for i in sorted(segments)]
    more = len(names) - _EXAMPLES
    shown = ", ".join(names[:_EXAMPLES]) + (f" and {more} more" if more > 0 else "")
    return f"{message} (on {shown})"


def _floor_below_p6(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    bad = resolved.floor[members] < topology.lowest_class_level[members] - _EPSILON
    spec = describe(layer.limits.floor)
    message = (
        f"the floor {spec} is below the lowest lighting class P6 ({AVERAGE_LUX[QUIETEST]:g} lx):"
        " while lit, the street can be darker than any EN 13201 class; floor: P6 avoids it"
    )
    return "limits", "floor", bad, message


def _floor_above_max(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    bad = resolved.floor[members] > resolved.max[members] + _EPSILON
    message = (
        f"the floor {describe(layer.limits.floor)} needs more than limits.max "
        f"{describe(layer.limits.max)}; the maximum wins"
    )
    return "limits", "floor", bad, message


def _occupied_below_rated(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    bad = resolved.occupied_level[members] < topology.rated_level[members] - _EPSILON
    message = (
        f"presence.level {describe(layer.presence.level)} is below the rated class: walkers "
        "get less light than the street's standard; level: rated avoids it"
    )
    return "presence", "level", bad, message


def _hold_shorter_than_a_crossing(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    crossing_s = topology.length_m[members] / WALKING_SPEED_M_S
    bad = resolved.hold_s[members] < crossing_s
    longest_s = float(crossing_s[bad].max()) if bad.any() else 0.0
    message = (
        f"presence.hold_s {layer.presence.hold_s:g} s is shorter than the {longest_s:.0f} s a "
        f"walker needs to cross a segment at {WALKING_SPEED_M_S} m/s: the light can go down "
        "before they are through"
    )
    return "presence", "hold_s", bad, message


SLOW_WALKER_M_S = 1.0


def _occupancy_gives_up_early(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    on = resolved.occupancy[members]
    bad = on & (resolved.slowest_walker_mps[members] >= SLOW_WALKER_M_S)
    message = (
        f"presence.slowest_walker_mps {layer.presence.slowest_walker_mps:g} m/s: with occupancy, "
        "a zone gives up on a walker who stops or walks slower than that while they are still "
        f"in it; below {SLOW_WALKER_M_S:g} m/s (0.5 by default) avoids it"
    )
    return "presence", "slowest_walker_mps", bad, message


def _learning_without_occupancy(
    resolved: Resolved, topology: Topology, layer: Layer, members: IntArray
) -> tuple[str, str, BoolArray, str]:
    bad = resolved.learn_speeds[members] & ~resolved.occupancy[members]
    message = (
        "presence.learn_speeds without presence.occupancy learns nothing: speeds come from the "
        "walkers counted in and out of the zones; occupancy: true enables it"
    )
    return "presence", "learn_speeds", bad, message


RULES: tuple[Rule, ...] = (
    _floor_below_p6,
    _floor_above_max,
    _occupied_below_rated,
    _hold_shorter_than_a_crossing,
    _occupancy_gives_up_early,
    _learning_without_occupancy,
)
