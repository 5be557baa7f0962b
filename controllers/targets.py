"""What an override may name: a segment, a street, a group of the policy, or `all`."""

import numpy as np

from controllers.resolve import covered
from controllers.settings.errors import did_you_mean
from controllers.settings.policy import Policy
from controllers.topology import IntArray, Topology

ALL = "all"


def target_segments(name: str, topology: Topology, policy: Policy) -> IntArray | None:
    """The segments `name` stands for (a segment id first, then a street, then a group), or
    None when it is none of them."""
    if name == ALL:
        return np.arange(topology.size, dtype=np.int64)
    if name in topology.positions:
        return np.array([topology.positions[name]], dtype=np.int64)
    if name in topology.streets:
        return np.flatnonzero(topology.street_of == topology.streets.index(name))
    if name in policy.groups:
        return np.flatnonzero(covered(("groups", name), policy.groups[name], topology))
    return None


def unknown_target(name: str, topology: Topology, policy: Policy) -> str:
    """The explanation for a name that is no target."""
    known = [ALL, *topology.ids, *topology.streets, *policy.groups]
    hint = did_you_mean(name, known)
    return f"unknown override target {name!r}{hint}: use a segment id, a street, a group or 'all'"
