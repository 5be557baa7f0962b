"""Rows the controller stores beside the readings: alerts and energy, through the same spool.

They go to the local spool like any reading, so the storage writer sends them to the
time-series database (measurements `alert` and `energy`, tagged by segment) and `luciole
export` lists them. The key makes a row written twice (a retried flush) a no-op.
"""

import json
from collections.abc import Mapping

from gateway.store.spool import SpoolRow

SOURCE = "controller"  # the device_id of rows the controller writes


def controller_row(
    kind: str, ts_s: float, segment: str, key: str, fields: Mapping[str, object]
) -> SpoolRow:
    """One spool row of `kind` for `segment` at `ts_s`; `key` identifies it among its kind."""
    body = {"device_id": SOURCE, "segment": segment, "ts_s": ts_s, **fields}
    return SpoolRow(ts_s, kind, SOURCE, f"{kind}:{key}", 0, json.dumps(body, allow_nan=False))


def device_row(
    kind: str, ts_s: float, *, device_id: str, segment: str, key: str, fields: Mapping[str, object]
) -> SpoolRow:
    """A row the controller writes about one device (a bin's alert, a meter's night flow),
    tagged with the device and its segment; `key` identifies it among its kind."""
    body = {"device_id": device_id, "segment": segment, "ts_s": ts_s, **fields}
    return SpoolRow(ts_s, kind, device_id, f"{kind}:{key}", 0, json.dumps(body, allow_nan=False))
