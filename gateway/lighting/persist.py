"""The lighting's state that must outlive the daemon: operators' overrides, traffic flows and
the walking speeds learnt per street.

They are spool state rows (room `lighting`, `gateway.store.spool.STATE`), committed with the
messages that changed them: an override with its override message; the flows and the learnt
speeds with a batch that counted walkers, at most every `STATE_EVERY_S`, and when the daemon
stops. After a `kill -9` the overrides are what the acknowledged messages made them (what was
not acknowledged comes again from the broker); the flows and speeds may miss the walkers of
the last `STATE_EVERY_S` (10 s of a 15 min traffic window; a street's speeds keep its last
200 walkers). Writing them with every batch cost a fifth of a core at 10,000 segments: each
row holds every counter of the site. At start-up (and on a site reload) they are put back by
segment id and street:
- an override keeps its absolute expiry, and one that expired while the daemon was down is
  not restored (the lamps go back to the schedule as they would have);
- the flows keep their window's buckets, if the window (`traffic.window_s`) is the same;
  the window moves on from there as time does, so counts older than it fall out at once;
- the learnt speeds keep each street's samples (streets the site no longer has are left out).
Presence is seconds long and starts afresh; so do the walkers counted into zones.
"""

import json
import logging

import numpy as np

from gateway.lighting.control import Lighting
from gateway.logs import event
from gateway.store.spool import SpoolRow, state_row

log = logging.getLogger("luciole.gateway")

ROOM = "lighting"
OVERRIDES, FLOWS, SPEEDS = "overrides", "flows", "speeds"
# Flows and speeds are stored with a batch at most this often while walkers are counted, and
# when the daemon stops: a `kill -9` loses at most this much of them (10 s of a 15 min window).
STATE_EVERY_S = 10.0


def overrides_row(lighting: Lighting, now_s: float) -> SpoolRow:
    """The overrides in force now: segment id → [level, until_s]."""
    segments, levels, until_s = lighting.engine.overrides(now_s)
    ids = lighting.topology.ids
    body = {
        ids[int(i)]: [float(level), float(until)]
        for i, level, until in zip(segments, levels, until_s, strict=True)
    }
    return state_row(ROOM, OVERRIDES, now_s, json.dumps(body))


def flows_row(lighting: Lighting, now_s: float) -> SpoolRow:
    """The walkers counted per counter segment in each bucket of the rolling window."""
    flow = lighting.engine.flow
    bucket, ring = flow.counts()
    ids = lighting.topology.ids
    counters = lighting.topology.counters
    body = {
        "window_s": flow.window_s,
        "bucket": bucket,
        "counts": {ids[int(c)]: ring[:, k].tolist() for k, c in enumerate(counters)},
    }
    return state_row(ROOM, FLOWS, now_s, json.dumps(body))


def speeds_row(lighting: Lighting, now_s: float) -> SpoolRow | None:
    """The learnt walking speeds' samples per street (None: the policy learns none)."""
    occupancy = lighting.engine.occupancy
    if occupancy is None:
        return None
    return state_row(ROOM, SPEEDS, now_s, json.dumps(occupancy.speeds.snapshot()))


def carry_over(old: Lighting, new: Lighting, now_s: float) -> None:
    """A reload's new lighting takes the old one's overrides, flows and learnt speeds, by
    segment id and street."""
    rows = [overrides_row(old, now_s), flows_row(old, now_s), speeds_row(old, now_s)]
    stored = {row.device_id: row.body for row in rows if row is not None}
    restore(new, stored, now_s)
    restore_speeds(new, stored)


def restore_speeds(lighting: Lighting, stored: dict[str, str]) -> int:
    """The samples of the stored speeds, for the streets the site still has (how many)."""
    occupancy, body = lighting.engine.occupancy, stored.get(SPEEDS)
    if occupancy is None or not body:
        return 0
    return occupancy.speeds.restore(json.loads(body))


def restore(lighting: Lighting, stored: dict[str, str], now_s: float) -> tuple[int, bool]:
    """Put back what `stored` (the room's rows) holds: (segments overridden, flows restored).
    Entries of segments or counters the site no longer has are left out."""
    overridden = _overrides(lighting, stored.get(OVERRIDES), now_s)
    flows = _flows(lighting, stored.get(FLOWS))
    return overridden, flows


def _overrides(lighting: Lighting, body: str | None, now_s: float) -> int:
    if not body:
        return 0
    positions = lighting.topology.positions
    known = [(positions[s], v) for s, v in json.loads(body).items() if s in positions]
    if not known:
        return 0
    segments = np.array([i for i, _ in known], dtype=np.int64)
    levels = np.array([v[0] for _, v in known], dtype=np.float32)
    until_s = np.array([v[1] for _, v in known], dtype=np.float64)
    return lighting.engine.restore_overrides((segments, levels, until_s), now_s)


def _flows(lighting: Lighting, body: str | None) -> bool:
    if not body:
        return False
    data = json.loads(body)
    flow = lighting.engine.flow
    if data.get("bucket") is None or data.get("window_s") != flow.window_s:
        event(log, logging.INFO, "traffic flows not restored: the window changed")
        return False
    positions, counters = lighting.topology.positions, lighting.topology.counters
    _, ring = flow.counts()
    slot_of = {int(c): k for k, c in enumerate(counters)}
    for segment, counts in data["counts"].items():
        index = positions.get(segment)
        if index in slot_of and len(counts) == ring.shape[0]:
            ring[:, slot_of[index]] = counts
    lighting.engine.restore_flow(int(data["bucket"]), ring)
    return True
