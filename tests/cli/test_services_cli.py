"""`luciole bins due` and `luciole water leaks` read what the daemon stored in its spool."""

import csv
import io
import json
import time
from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.ingest.readings import BinReading, WaterReading
from gateway.services.city import CityServices
from gateway.store.spool import Spool
from luciole.main import main

SITE = """\
site: {id: cli, latitude: 47.47, longitude: -0.55, timezone: Europe/Paris}
segments:
  - {id: s1, street: rue-a, order: 1, length_m: 30, rated_power_w: 40}
  - {id: s2, street: rue-b, order: 1, length_m: 30, rated_power_w: 40}
water: {price_per_m3: 4.0}
devices:
  bin-full: {kind: bin, segment: s1, empty_distance_mm: 1000, full_distance_mm: 0,
             latitude: 47.47, longitude: -0.55}
  bin-low: {kind: bin, segment: s2, empty_distance_mm: 1000, full_distance_mm: 0}
  meter-leak: {kind: water, segment: s1}
  meter-ok: {kind: water, segment: s2}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site whose spool holds what a daemon stored after 30 h: one full bin, one leak."""
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    (tmp_path / "policy.yaml").write_text("{}\n")
    settings = load_settings(path)
    city = CityServices(settings.site, settings.policy)
    spool = Spool(settings.spool_path)
    start_s = (time.time() // 3600 - 30) * 3600
    for k in range(30 * 4):
        ts_s = start_s + k * 900
        for device, rate in (("meter-leak", 0.03), ("meter-ok", 0.03 if k % 8 < 4 else 0.0)):
            city.accept(
                WaterReading(
                    device_id=device, segment="s1", ts_s=ts_s, total_m3=1.0, delta_m3=rate / 4
                )
            )
        if k % 4 == 0:
            fill = min(0.2 + 0.03 * k / 4, 0.95)
            city.accept(BinReading(device_id="bin-full", segment="s1", ts_s=ts_s, fill_ratio=fill))
            city.accept(BinReading(device_id="bin-low", segment="s2", ts_s=ts_s, fill_ratio=0.1))
        spool.append_rows(city.step(ts_s).rows)
    spool.close()
    return path


def test_bins_due_lists_the_full_bin_as_a_table_csv_and_geojson(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bins", "due", "--config", str(site)]) == 0
    out, err = capsys.readouterr()
    assert "bin-full" in out and "urgent" in out and "full" in out and "bin-low" not in out
    assert "1 urgent, 0 on the way, of 2 bins" in err
    assert main(["bins", "due", "--config", str(site), "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["device"] == "bin-full" and row["reason"] == "full"
    assert main(["bins", "due", "--config", str(site), "--format", "geojson"]) == 0
    (feature,) = json.loads(capsys.readouterr().out)["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [-0.55, 47.47]}


def test_water_leaks_lists_the_leak_with_its_cost_and_the_night_flow(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["water", "leaks", "--config", str(site), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    (leak,) = listed["leaks"]
    assert leak["device"] == "meter-leak" and leak["rate_l_h"] == pytest.approx(30.0)
    assert leak["cost"] == pytest.approx(leak["volume_m3"] * 4.0, abs=0.01)
    assert listed["night_flow_l_h"]["rue-a"] == pytest.approx(30.0)  # 30 h cover a night
    assert main(["water", "leaks", "--config", str(site)]) == 0
    out, err = capsys.readouterr()
    assert "meter-leak" in out and "EUR" in out and "1 active leak(s) among 2 meters" in err


def test_without_a_spool_or_with_a_bad_horizon_it_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "policy.yaml").write_text("{}\n")
    assert main(["bins", "due", "--config", str(tmp_path / "site.yaml")]) == 2
    assert "no spool at" in capsys.readouterr().err
    assert main(["bins", "due", "--config", str(tmp_path / "site.yaml"), "--within", "soon"]) == 2
    assert "--within: expected a duration" in capsys.readouterr().err
