"""Spool → database: line protocol, and a real VictoriaMetrics that goes away and comes back."""

import time
from pathlib import Path

from controllers.settings.site import InfluxSettings
from gateway.ingest.readings import PedestrianReading, Spooled, WaterReading
from gateway.store.database import Writer
from gateway.store.lines import line
from gateway.store.spool import Spool
from tests.conftest import Victoria


def test_line_protocol_has_tags_fields_and_nanoseconds() -> None:
    """Device, segment and direction are tags; values are typed fields; time in ns."""
    reading = {
        "kind": "pedestrian",
        "device_id": "c 1",
        "segment": "s,2",
        "ts_s": 1.5,
        "count": 3,
        "period_s": 60.0,
        "direction": "forward",
        "counter_reset": False,
    }
    assert line(reading) == (
        r"pedestrian,device_id=c\ 1,segment=s\,2,direction=forward "
        "count=3i,period_s=60.0,counter_reset=false 1500000000"
    )


def test_alarms_become_one_string_field() -> None:
    """A list of alarms is stored as one comma-separated string field."""
    reading = {
        "kind": "water",
        "device_id": "w",
        "segment": "s",
        "ts_s": 2.0,
        "total_m3": 1.25,
        "alarms": ["leak", "burst"],
    }
    assert (
        line(reading) == 'water,device_id=w,segment=s total_m3=1.25,alarms="leak,burst" 2000000000'
    )


def _fill(spool: Spool, count: int) -> None:
    base_s = time.time() - 3600  # an hour ago: visible to queries at once
    spool.append(
        [
            Spooled(
                WaterReading(device_id="w1", segment="s1", ts_s=base_s + i, total_m3=10 + i),
                f"w1:{i}",
            )
            for i in range(count)
        ]
        + [
            Spooled(
                PedestrianReading(device_id="c1", segment="s1", ts_s=base_s, count=2, period_s=60),
                "c1:0",
            )
        ]
    )


def _writer(spool: Spool, url: str, rejected: list[str]) -> Writer:
    settings = InfluxSettings(url=url, batch_size=400)
    return Writer(spool, settings, token="", reject=lambda body, why: rejected.append(why))


def test_every_spooled_reading_reaches_the_database(tmp_path: Path, victoria: Victoria) -> None:
    """1,000 readings drain in batches; the database holds all of them and the spool is empty."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, 1000)
    rejected: list[str] = []
    writer = _writer(spool, victoria.url, rejected)
    while spool.stats().unwritten:
        assert writer.drain_once().retry_after_s is None
    assert victoria.count("water_total_m3") == 1000
    assert victoria.count("pedestrian_count") == 1
    assert rejected == []


def test_database_outage_keeps_readings_until_it_returns(
    tmp_path: Path, victoria: Victoria
) -> None:
    """With the database down nothing is marked written; when it is back, everything is."""
    spool = Spool(tmp_path / "spool.db")
    _fill(spool, 300)
    victoria.stop()
    writer = _writer(spool, victoria.url, [])
    outage = writer.drain_once()
    assert outage.retry_after_s is not None and outage.written == []
    assert spool.stats().unwritten == 301
    victoria.start()
    while spool.stats().unwritten:
        assert writer.drain_once().retry_after_s is None
    assert victoria.count("water_total_m3") == 300
