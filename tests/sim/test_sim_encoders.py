"""Simulated counters speak every format the gateway reads: the gateway's own intake decodes
what they send back into the walkers they saw, directions included."""

import json

import numpy as np
import pytest

from controllers.settings import SiteConfig
from gateway.ingest.intake import Accepted, Intake
from gateway.ingest.readings import PedestrianReading
from gateway.wire.topics import Topics
from sim.devices.encoders import CountReport, Encoder, network_id, source_for
from sim.devices.faults import FaultInjector
from sim.devices.sensors import Outgoing
from sim.world.scenario import Faults, WireFormat

T0_S = 1_736_982_000.0
SEGMENT = {"id": "a", "street": "s", "order": 1, "length_m": 30, "rated_power_w": 10}


def _site(fmt: WireFormat) -> SiteConfig:
    topics = Topics("luciole", "t")
    source = source_for(fmt, topics)
    nid = network_id(fmt, "c", 7)
    return SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 47.0, "longitude": 0.0},
            "segments": [
                {"id": "a", "street": "s", "order": 1, "length_m": 30, "rated_power_w": 10}
            ],
            "devices": {
                "c": {"kind": "pedestrian", "segment": "a", "network_ids": [nid] if nid else []}
            },
            "sources": [source.__dict__] if source else [],
        }
    )


@pytest.mark.parametrize("fmt", ["native", "senml", "chirpstack", "tts"])
def test_reports_decode_back_to_the_walkers_seen(fmt: WireFormat) -> None:
    """A power-on report then forward, backward and forward walkers: the intake yields those
    walkers with their directions, whatever the format."""
    site = _site(fmt)
    encoder, intake = Encoder(Topics("luciole", "t")), Intake(site)
    nid = network_id(fmt, "c", 7) or "c"
    seen: list[tuple[int, str | None]] = []
    for seq, (forward, backward) in enumerate([(0, 0), (1, 0), (0, 1), (2, 0)]):
        report = CountReport("c", nid, forward, backward, 0, 0.0, T0_S + seq, seq)
        topic, payload = encoder.encode(fmt, report)
        result = intake.message(topic, payload, T0_S + seq)
        assert isinstance(result, Accepted), result
        seen += [
            (r.count, r.direction)
            for r in result.readings
            if isinstance(r, PedestrianReading) and r.count
        ]
    assert seen == [(1, "forward"), (1, "backward"), (2, "forward")]


def test_vs133_totals_wrap_like_the_device() -> None:
    """The VS133's u32 totals wrap past 2**32 - 1, and the gateway still counts one walker."""
    site, encoder = _site("chirpstack"), Encoder(Topics("luciole", "t"))
    intake, nid = Intake(site), network_id("chirpstack", "c", 7) or ""
    encoder._totals["c"] = (2**32 - 1, 0)  # noqa: SLF001  (a device that counted for long)
    counts = []
    for seq in range(2):
        topic, payload = encoder.encode(
            "chirpstack", CountReport("c", nid, seq, 0, 0, 0.0, T0_S, seq + 1)
        )
        result = intake.message(topic, payload, T0_S + seq)
        assert isinstance(result, Accepted)
        counts += [r.count for r in result.readings if isinstance(r, PedestrianReading)]
    assert sum(counts) == 1


def _messages(n: int) -> list[Outgoing]:
    body = json.dumps({"count": 1, "ts": T0_S, "seq": 0})
    return [Outgoing(f"x/{i}", body, send_s=T0_S + i, device=f"d{i % 3}") for i in range(n)]


def test_each_fault_switch_does_what_it_says() -> None:
    """Duplicates add copies, malformed replaces payloads, reordering delays, skew moves the
    device's timestamps, dropout silences the chosen device in its window; off is off."""
    rng = np.random.default_rng(0)
    assert FaultInjector(Faults(), T0_S, rng).apply(_messages(50)) == _messages(50)
    dup = FaultInjector(Faults(duplicates=0.5), T0_S, rng).apply(_messages(50))
    assert 60 < len(dup) < 90
    bad = FaultInjector(Faults(malformed=0.5), T0_S, rng).apply(_messages(50))
    assert 10 < sum(m.body != _messages(1)[0].body for m in bad) < 40
    late = FaultInjector(Faults(reorder=0.5, reorder_s=10), T0_S, rng).apply(_messages(50))
    assert 10 < sum(m.send_s > T0_S + i for i, m in enumerate(late)) < 40
    skewed = FaultInjector(Faults(clock_skew_s=60), T0_S, rng).apply(_messages(50))
    offsets = {m.device: json.loads(m.body)["ts"] - T0_S for m in skewed}
    assert len(set(offsets.values())) == 3 and all(abs(v) <= 60 for v in offsets.values())
    window = {"at_s": 10, "for_s": 20, "devices": ["d1"]}
    dropped = FaultInjector(Faults(dropout=[window]), T0_S, rng).apply(_messages(50))
    gone = {m.topic for m in _messages(50)} - {m.topic for m in dropped}
    assert gone == {f"x/{i}" for i in range(10, 30) if i % 3 == 1}
