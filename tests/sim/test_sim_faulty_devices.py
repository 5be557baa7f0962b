"""Devices that misbehave as real ones do: dead lamps, stuck drivers, bins emptied on their
day, meters that roll over; and trace lines that are not trace lines."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings import SiteConfig
from controllers.topology import Topology
from gateway.ingest.intake import Accepted, Intake
from gateway.ingest.readings import WaterReading
from gateway.wire.payloads import BinPayload, WaterPayload
from gateway.wire.trace import Record, TraceError, parse_record
from sim.devices.lamps import SimLamps
from sim.devices.sensors import PeriodicSensors

T0_S = 1_736_982_000.0
PARIS = ZoneInfo("Europe/Paris")


def test_a_failed_lamp_gives_no_light_and_says_so(tiny_topology: Topology) -> None:
    """After failing, a lamp ignores commands, reports `failed` and is dark; its watchdog
    does not pretend to light it."""
    lamps = SimLamps(tiny_topology, watchdog_s=60)
    lamps.command(0, 1.0, 0.0, T0_S)
    lamps.fail(np.array([0]))
    report = lamps.command(0, 1.0, 0.0, T0_S + 1)
    assert (report.status, report.level) == ("failed", 0.0)
    assert lamps.level(T0_S + 2)[0] == 0.0
    assert all(r.segment != 0 for r in lamps.check_watchdog(T0_S + 600))


def test_a_stuck_driver_stays_where_it_was(tiny_topology: Topology) -> None:
    """A stuck driver keeps its level whatever it is told, and reports that level."""
    lamps = SimLamps(tiny_topology)
    lamps.command(1, 0.3, 0.0, T0_S)
    lamps.stick(np.array([1]))
    report = lamps.command(1, 1.0, 0.0, T0_S + 1)
    assert lamps.level(T0_S + 5)[1] == 0.3
    assert report.level == 0.3 and report.status == "ok"


def test_bins_are_emptied_on_their_collection_day(tiny_site: SiteConfig) -> None:
    """Over two weeks of reports, a bin is emptied right after 06:00 on its collection days
    only, and it never reads fuller than full."""
    sensors = PeriodicSensors(tiny_site, np.random.default_rng(3), period_s=900)
    days = sensors._collection_days[0]  # noqa: SLF001  (the truth the bins follow)
    fills: list[float] = []
    emptied: set[tuple[int, int]] = set()  # (weekday, hour) of each emptying
    for quarter in range(14 * 96):
        for message in sensors.due(T0_S + quarter * 900.0):
            if "/bin/" in message.topic:
                payload = BinPayload.model_validate_json(message.body)
                assert payload.distance_mm is not None
                fill = (1000 - payload.distance_mm) / 900
                if fills and fill < fills[-1] - 0.1:
                    local = dt.datetime.fromtimestamp(payload.ts or 0, PARIS)
                    emptied.add((local.weekday(), local.hour))
                fills.append(fill)
    assert emptied and {day for day, _ in emptied} <= days
    assert all(hour in (6, 7) for _, hour in emptied)
    assert max(fills) < 1.05


def test_a_meter_near_the_top_of_its_register_rolls_over(tiny_site: SiteConfig) -> None:
    """A meter started just under 100,000 m³ wraps to a small index, and the gateway reads
    that as a rollover with the right consumption, not as a new meter."""
    sensors = PeriodicSensors(tiny_site, np.random.default_rng(1), period_s=900)
    sensors._total_m3[0] = 99_999.99  # noqa: SLF001  (a meter near its rollover)
    intake = Intake(tiny_site)
    events = []
    for quarter in range(6 * 96):
        for message in sensors.due(T0_S + quarter * 900.0):
            if "/water/" not in message.topic:
                continue
            WaterPayload.model_validate_json(message.body)
            result = intake.message(message.topic, message.body, T0_S + quarter * 900.0)
            assert isinstance(result, Accepted)
            events += [r.event for r in result.readings if isinstance(r, WaterReading) and r.event]
    assert "rollover" in events


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.dictionaries(st.text(max_size=8), st.text(max_size=8))))
def test_any_trace_line_is_a_record_or_a_reasoned_refusal(line: object) -> None:
    """Whatever a line holds, parsing gives a record or a TraceError naming where, never a
    crash."""
    text = line if isinstance(line, str) else json.dumps(line)
    try:
        record = parse_record(text, "t.jsonl:7")
    except TraceError as error:
        assert str(error).startswith("t.jsonl:7: ")
    else:
        assert isinstance(record, Record)


def test_records_round_trip_text_and_bytes() -> None:
    """Text payloads stay readable, other bytes go as base64; both come back the same."""
    for payload in (b'{"count": 1}', b"\x00\xff\x13"):
        record = Record(T0_S, "a/b", payload)
        assert parse_record(record.to_json(), "here") == record
