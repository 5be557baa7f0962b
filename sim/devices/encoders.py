"""Counter reports in every wire format the gateway reads: native JSON, SenML, and LoRaWAN
uplinks (ChirpStack v4, The Things Stack v3) carrying Milesight VS133 bytes.

The payloads are built the way the devices and network servers build them; the gateway's own
decoders read them back (the tests check that), so the simulator cannot drift into a dialect.
"""

import base64
import json
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.wire.payloads import PedestrianPayload
from gateway.wire.topics import Topics
from sim.world.scenario import WireFormat

VS133_FPORT = 85
# VS133 line 1: cumulative walkers in (channel 03, type D2) and out (04, D2), u32 little-endian.
_LINE1_TOTAL_IN = b"\x03\xd2"
_LINE1_TOTAL_OUT = b"\x04\xd2"
_U32 = 2**32


@dataclass(frozen=True)
class CountReport:
    """What one counter says once: walkers forward, backward, or of unknown direction."""

    device_id: str
    network_id: str
    forward: int
    backward: int
    unknown: int
    period_s: float
    ts_s: float
    seq: int


@dataclass(frozen=True)
class Source:
    """A `sources:` entry of the site file for a third-party format (None for native)."""

    topic: str
    format: str
    codec: str | None


def source_for(fmt: WireFormat, topics: Topics) -> Source | None:
    """Where counters of this format publish, as the site file must list it."""
    if fmt == "senml":
        return Source(f"{topics.root}/senml/+", "senml", None)
    if fmt == "chirpstack":
        return Source(
            f"application/{topics.site}/device/+/event/up", "chirpstack", "milesight-vs133"
        )
    if fmt == "tts":
        return Source(f"v3/{topics.site}@luciole/devices/+/up", "tts", "milesight-vs133")
    return None


def network_id(fmt: WireFormat, device_id: str, index: int) -> str | None:
    """The id the device has on its network: a devEUI for LoRaWAN, a URN for SenML."""
    if fmt in ("chirpstack", "tts"):
        return f"24e1641{index:09x}"  # Milesight's OUI, then a serial number
    if fmt == "senml":
        return f"urn:dev:luciole:{device_id}"
    return None


class Encoder:
    """Encodes the reports of one site's counters; keeps the VS133 devices' running totals."""

    def __init__(self, topics: Topics) -> None:
        self._topics = topics
        self._totals: dict[str, tuple[int, int]] = {}

    def encode(self, fmt: WireFormat, report: CountReport) -> tuple[str, bytes]:
        """(topic, payload) of one report in `fmt`."""
        if fmt == "senml":
            return self._senml(report)
        if fmt in ("chirpstack", "tts"):
            return self._lorawan(fmt, report)
        return self._native(report)

    def _native(self, report: CountReport) -> tuple[str, bytes]:
        count, direction = _single(report)
        payload = PedestrianPayload(
            count=count,
            period_s=report.period_s,
            direction=direction,
            ts=report.ts_s,
            seq=report.seq,
        )
        topic = self._topics.sensor("pedestrian", report.device_id)
        return topic, payload.model_dump_json(exclude_none=True).encode()

    def _senml(self, report: CountReport) -> tuple[str, bytes]:
        base = {"bn": f"{report.network_id}:", "bt": report.ts_s, "bu": "count"}
        records: list[dict[str, object]] = []
        for name, value in (
            ("count_in", report.forward),
            ("count_out", report.backward),
            ("count", report.unknown),
        ):
            if value or (name == "count" and not records):
                records.append({"n": name, "v": value})
        pack = [{**base, **records[0]}, *records[1:]]
        return f"{self._topics.root}/senml/{report.device_id}", json.dumps(pack).encode()

    def _lorawan(self, fmt: WireFormat, report: CountReport) -> tuple[str, bytes]:
        total_in, total_out = self._totals.get(report.device_id, (0, 0))
        # A VS133 counts every walker on its line one way or the other; it has no "unknown".
        total_in = (total_in + report.forward + report.unknown) % _U32
        total_out = (total_out + report.backward) % _U32
        self._totals[report.device_id] = (total_in, total_out)
        frame = (
            _LINE1_TOTAL_IN
            + struct.pack("<I", total_in)
            + _LINE1_TOTAL_OUT
            + struct.pack("<I", total_out)
        )
        data = base64.b64encode(frame).decode()
        when = datetime.fromtimestamp(report.ts_s, UTC).isoformat()
        eui = report.network_id
        if fmt == "chirpstack":
            return self._chirpstack(report, eui, data, when)
        return self._tts(report, eui, data, when)

    def _chirpstack(self, report: CountReport, eui: str, data: str, when: str) -> tuple[str, bytes]:
        event = {
            "deduplicationId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{eui}/{report.seq}")),
            "time": when,
            "deviceInfo": {"devEui": eui, "deviceName": report.device_id},
            "fCnt": report.seq,  # proto3 JSON: zero is left out, as ChirpStack does
            "fPort": VS133_FPORT,
            "data": data,
        }
        if report.seq == 0:
            del event["fCnt"]
        topic = f"application/{self._topics.site}/device/{eui}/event/up"
        return topic, json.dumps(event).encode()

    def _tts(self, report: CountReport, eui: str, data: str, when: str) -> tuple[str, bytes]:
        up: dict[str, object] = {"f_port": VS133_FPORT, "frm_payload": data, "received_at": when}
        if report.seq:
            up["f_cnt"] = report.seq
        message = {
            "end_device_ids": {"device_id": report.device_id, "dev_eui": eui.upper()},
            "received_at": when,
            "uplink_message": up,
        }
        topic = f"v3/{self._topics.site}@luciole/devices/{report.device_id}/up"
        return topic, json.dumps(message).encode()


def _single(report: CountReport) -> tuple[int, str | None]:
    """Native reports carry one direction: a report is split before it gets here."""
    if report.forward:
        return report.forward, "forward"
    if report.backward:
        return report.backward, "backward"
    return report.unknown, None
