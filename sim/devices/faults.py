"""Faults between the devices and the gateway, each switchable per scenario (`Faults`).

Applied to the messages the devices produce, before anyone sends them: sensor dropout (a
device says nothing for a while), duplicates (a retry after a lost ack), reordering (a message
held back behind later ones), malformed payloads (a bit flip, a truncated frame), and skewed
device clocks. Broker and storage outages are not message faults: the runner that owns the
broker or the database switches them (`sim.runs.live`), and the offline pipeline models the broker
one (`sim.runs.offline`).
"""

import json
from dataclasses import replace

import numpy as np

from sim.devices.sensors import Outgoing
from sim.world.scenario import Faults

_GARBAGE = (b"\x00\xff\x13", b'{"count": ', b"not json at all", b'{"count": "many"}')


class FaultInjector:
    """Turns the messages of one step into what the network delivers (maybe none of them)."""

    def __init__(self, faults: Faults, start_s: float, rng: np.random.Generator) -> None:
        self.faults = faults
        self._start_s = start_s
        self._rng = rng
        self._skew_s: dict[str, float] = {}
        self.counts: dict[str, int] = {
            "dropped": 0,
            "duplicated": 0,
            "reordered": 0,
            "malformed": 0,
            "skewed": 0,
        }

    def apply(self, messages: list[Outgoing]) -> list[Outgoing]:
        """The faulty version of `messages` (their `send_s` may move later)."""
        out: list[Outgoing] = []
        for message in messages:
            if self._dropped(message):
                self.counts["dropped"] += 1
                continue
            sent = self._held_back(self._malformed(self._skewed(message)))
            out.append(sent)
            if self._chance(self.faults.duplicates):
                self.counts["duplicated"] += 1
                out.append(replace(sent, send_s=sent.send_s + self._rng.uniform(0.1, 2.0)))
        return out

    def _chance(self, share: float) -> bool:
        return share > 0 and bool(self._rng.random() < share)

    def _dropped(self, message: Outgoing) -> bool:
        offset_s = message.send_s - self._start_s
        return any(
            window.covers(offset_s) and (not window.devices or message.device in window.devices)
            for window in self.faults.dropout
        )

    def _held_back(self, message: Outgoing) -> Outgoing:
        if not self._chance(self.faults.reorder):
            return message
        self.counts["reordered"] += 1
        delay_s = self._rng.uniform(0.5, 1.0) * self.faults.reorder_s
        return replace(message, send_s=message.send_s + delay_s)

    def _malformed(self, message: Outgoing) -> Outgoing:
        if not self._chance(self.faults.malformed):
            return message
        self.counts["malformed"] += 1
        garbage = _GARBAGE[int(self._rng.integers(len(_GARBAGE)))]
        return replace(message, payload=garbage)

    def _skewed(self, message: Outgoing) -> Outgoing:
        """A device whose clock is off stamps its readings off by the same amount. Only
        devices that stamp their own readings are affected (native `ts`, SenML `bt`); LoRaWAN
        times are the network server's."""
        limit_s = self.faults.clock_skew_s
        if limit_s == 0 or not message.device:
            return message
        skew_s = self._skew_s.setdefault(
            message.device, float(self._rng.uniform(-abs(limit_s), abs(limit_s)))
        )
        try:
            data = json.loads(message.body)
        except ValueError:
            return message
        if isinstance(data, dict) and isinstance(data.get("ts"), int | float):
            data["ts"] = max(data["ts"] + skew_s, 0.0)
        elif isinstance(data, list) and data and isinstance(data[0].get("bt"), int | float):
            data[0]["bt"] = max(data[0]["bt"] + skew_s, 0.0)
        else:
            return message
        self.counts["skewed"] += 1
        return replace(message, payload=json.dumps(data).encode())
