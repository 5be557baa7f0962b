"""The rules' state per device as spool state rows (`gateway.store.spool.STATE`), and back.

A device's row is its packed state (`BinState.pack`, `WaterState.pack`: float64 columns) in
base64, prefixed with its width: a daemon of another version, whose state has other columns,
starts that device afresh and says so rather than reading columns that mean something else.
"""

import base64
import logging
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from controllers.services.changes import FloatArray, IntArray
from gateway.logs import event
from gateway.store.spool import SpoolRow, state_row

log = logging.getLogger("luciole.gateway")


class Packable(Protocol):
    width: int

    def pack(self, indexes: IntArray) -> FloatArray: ...

    def unpack(self, indexes: IntArray, rows: FloatArray) -> None: ...


class WithIndexes:
    """A meters' state with each meter's last raw index and its time beside it: what the
    intake's normaliser needs after a restart to turn the next reading into a volume."""

    def __init__(self, state: Packable, size: int) -> None:
        self.state = state
        self.indexes = np.full((size, 2), np.nan)  # (total_m3, ts_s) per meter
        self.width = state.width + 2

    def pack(self, indexes: IntArray) -> FloatArray:
        return np.hstack([self.state.pack(indexes), self.indexes[indexes]])

    def unpack(self, indexes: IntArray, rows: FloatArray) -> None:
        self.state.unpack(indexes, rows[:, :-2])
        self.indexes[indexes] = rows[:, -2:]


def state_rows(
    room: str, state: Packable, ids: tuple[str, ...], indexes: IntArray, ts_s: float
) -> list[SpoolRow]:
    """State rows of the devices at `indexes` (each once)."""
    unique = np.unique(indexes)
    if unique.size == 0:
        return []
    packed = state.pack(unique)
    return [
        state_row(room, ids[int(i)], ts_s, _encode(row))
        for i, row in zip(unique, packed, strict=True)
    ]


def restore(
    room: str, state: Packable, positions: Mapping[str, int], stored: Mapping[str, str]
) -> int:
    """Put the stored rows of known devices back into `state`; how many were restored."""
    indexes: list[int] = []
    rows: list[FloatArray] = []
    for device_id, body in stored.items():
        if device_id not in positions or not body:
            continue  # a device no longer registered: its state stays in the file, unused
        row = _decode(body, state.width)
        if row is None:
            event(
                log,
                logging.WARNING,
                "stored state of another version; starting afresh",
                room=room,
                device=device_id,
            )
            continue
        indexes.append(positions[device_id])
        rows.append(row)
    if indexes:
        state.unpack(np.array(indexes, dtype=np.int64), np.stack(rows))
    return len(indexes)


def _encode(row: FloatArray) -> str:
    return f"{row.size}:{base64.b64encode(row.astype('<f8').tobytes()).decode()}"


def _decode(body: str, width: int) -> FloatArray | None:
    size, _, data = body.partition(":")
    if size != str(width):
        return None
    try:
        row = np.frombuffer(base64.b64decode(data, validate=True), dtype="<f8")
    except ValueError:
        return None
    return row.astype(np.float64) if row.size == width else None
