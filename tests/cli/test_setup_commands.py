"""Setting up a site: `luciole --version`, `luciole init` and `luciole import-lamps`."""

import json
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings.site import SiteConfig
from luciole import setup
from luciole.inventory import Lamp, plan_segments, read_inventory, segments_yaml, slugify
from luciole.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "luciole" / "examples"
UNIT = ROOT / "config" / "systemd" / "luciole.service"
MINIMAL_SITE = {"site": {"id": "test-site", "latitude": 47.47, "longitude": -0.55}}

# About 30 m between lamps: 0.0004° of longitude at 47.47° N, 0.00027° of latitude.
EGLISE = [(f"E{k}", 47.4700, -0.5500 + 0.0004 * k) for k in range(1, 7)]
PORT = [(f"P{k}", 47.4750 + 0.00027 * k, -0.5600) for k in range(1, 6)]
SHUFFLED = [3, 0, 5, 1, 4, 2]  # the inventory lists the lamps out of order


def _feature(lamp_id: str, street: str | None, lat: float, lon: float, **extra: Any) -> Any:
    properties = {"id": lamp_id, "street": street, **extra}
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def _geojson() -> dict[str, Any]:
    features = []
    for i in SHUFFLED:
        lamp_id, lat, lon = EGLISE[i]
        features.append(_feature(lamp_id, "Rue de l'Église", lat, lon, power_w=36))
    for i in (4, 2, 0, 3, 1):
        lamp_id, lat, lon = PORT[i]
        features.append(_feature(lamp_id, "Quai du Port", lat, lon, lighting_class="P3"))
    features.append(_feature("NOSTREET", None, 47.47, -0.55))
    features.append({"type": "Feature", "properties": {"id": "NOPLACE", "street": "x"}})
    return {"type": "FeatureCollection", "features": features}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _segments(text: str) -> list[dict[str, Any]]:
    """The imported segments, validated as those of a site."""
    loaded = yaml.safe_load(text)
    site = SiteConfig.model_validate({**MINIMAL_SITE, **loaded})
    assert site.problems() == []
    segments: list[dict[str, Any]] = loaded["segments"]
    return segments


def _ends_of(text: str, segment_id: str) -> str:
    """Where a segment starts and ends, as its `start` and `end` keys say."""
    segment = next(s for s in _segments(text) if s["id"] == segment_id)
    (lat1, lon1), (lat2, lon2) = segment["start"], segment["end"]
    return f"from {lat1:.6f}, {lon1:.6f} to {lat2:.6f}, {lon2:.6f}"


# --- luciole --version -----------------------------------------------------------------------


def test_version_is_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"luciole {metadata.version('luciole')}\n"


def test_version_is_unknown_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert setup.installed_version() == "unknown"


# --- the shipped examples --------------------------------------------------------------------


@pytest.mark.parametrize("name", setup.EXAMPLES)
def test_the_packaged_examples_are_those_of_config(name: str) -> None:
    """luciole/examples/ ships copies of config/: after editing config/, copy the file."""
    shipped = (ROOT / "config" / name).read_bytes()
    assert (EXAMPLES / name).read_bytes() == shipped, f"cp config/{name} luciole/examples/"
    assert setup.example(name) == shipped


def test_the_packaged_systemd_unit_is_that_of_config() -> None:
    """Once config/systemd/luciole.service exists, the wheel carries a copy of it."""
    copy = EXAMPLES / "luciole.service"
    if not UNIT.exists():
        assert not copy.exists(), "luciole/examples/luciole.service has no original in config/"
        return
    assert copy.exists(), "cp config/systemd/luciole.service luciole/examples/"
    assert copy.read_bytes() == UNIT.read_bytes(), (
        "cp config/systemd/luciole.service luciole/examples/"
    )


# --- luciole init ----------------------------------------------------------------------------


def test_init_writes_a_site_that_check_config_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "new" / "site"
    assert main(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in setup.EXAMPLES:
        assert (folder / name).read_bytes() == (ROOT / "config" / name).read_bytes()
        assert f"wrote {folder / name}" in out
    assert f"luciole check-config {folder / 'site.yaml'}" in out
    assert f"luciole run --config {folder / 'site.yaml'}" in out
    assert "import-lamps" in out
    assert main(["check-config", str(folder / "site.yaml")]) == 0
    assert "1 file(s) valid" in capsys.readouterr().out


def test_init_overwrites_nothing_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = _write(tmp_path / "site.yaml", "site: mine\n")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{mine} already exists" in err
    assert "--force" in err
    assert mine.read_text() == "site: mine\n"
    assert not (tmp_path / "policy.yaml").exists(), "nothing is written when one file exists"
    assert main(["init", "--force", str(tmp_path)]) == 0
    assert mine.read_bytes() == setup.example("site.yaml")


def test_init_into_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = _write(tmp_path / "taken", "")
    assert main(["init", str(blocker)]) == 2
    assert f"cannot write to {blocker}" in capsys.readouterr().err


# --- luciole import-lamps --------------------------------------------------------------------


def test_geojson_lamps_become_segments_along_each_street(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = _write(tmp_path / "lamps.geojson", json.dumps(_geojson()))
    assert main(["import-lamps", str(inventory)]) == 0
    captured = capsys.readouterr()
    segments = _segments(captured.out)
    assert [(s["id"], s["street"], s["order"], s["lamps"]) for s in segments] == [
        ("rue-de-l-eglise-01", "rue-de-l-eglise", 1, 4),
        ("rue-de-l-eglise-02", "rue-de-l-eglise", 2, 2),
        ("quai-du-port-01", "quai-du-port", 1, 4),
        ("quai-du-port-02", "quai-du-port", 2, 1),
    ]
    # In street order whatever the inventory's: E1..E4 then E5..E6, P1..P4 then P5.
    assert _ends_of(captured.out, "rue-de-l-eglise-01") == (
        "from 47.470000, -0.549600 to 47.470000, -0.548400"
    )
    assert _ends_of(captured.out, "rue-de-l-eglise-02") == (
        "from 47.470000, -0.548000 to 47.470000, -0.547600"
    )
    assert _ends_of(captured.out, "quai-du-port-02").startswith("from 47.476350, -0.560000")
    first = segments[0]
    assert first["length_m"] == pytest.approx(4 * 30.1, abs=1)
    assert (first["rated_power_w"], first["lighting_class"]) == (36, "P4")
    assert (segments[2]["rated_power_w"], segments[2]["lighting_class"]) == (40, "P3")
    assert segments[3]["length_m"] == pytest.approx(30, abs=1)
    err = captured.err
    assert "2 street(s), 11 lamp(s), 4 segment(s)" in err
    assert "skipped 1 lamp(s) without a street: NOSTREET" in err
    assert "skipped 1 lamp(s) without coordinates: NOPLACE" in err
    assert "5 lamp(s) without a power" in err


def test_csv_lamps_by_length_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["id,street,latitude,longitude,power_w"]
    rows += [f"{EGLISE[i][0]},Rue de l'Église,{EGLISE[i][1]},{EGLISE[i][2]},36" for i in SHUFFLED]
    rows += ["Z1,,47.47,-0.55,36", "Z2,Rue de l'Église,,,36"]
    inventory = _write(tmp_path / "lamps.csv", "\n".join(rows) + "\n")
    out = tmp_path / "segments.yaml"
    assert main(["import-lamps", str(inventory), "--segment-length", "60", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    text = out.read_text()
    segments = _segments(text)
    assert [(s["id"], s["lamps"]) for s in segments] == [
        ("rue-de-l-eglise-01", 2),
        ("rue-de-l-eglise-02", 2),
        ("rue-de-l-eglise-03", 2),
    ]
    assert all(s["length_m"] == pytest.approx(60.2, abs=1) for s in segments)
    assert _ends_of(text, "rue-de-l-eglise-02") == (
        "from 47.470000, -0.548800 to 47.470000, -0.548400"
    )
    assert "skipped 1 lamp(s) without a street: Z1" in captured.err
    assert "skipped 1 lamp(s) without coordinates: Z2" in captured.err
    assert f"wrote {out}" in captured.err


def test_a_european_csv_with_other_column_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Semicolons, decimal commas, a BOM, other column names."""
    rows = [
        "\ufeffref;voie;lat;lon;Lighting_Class",
        "L2;Quai;47,4751;-0,56;P2",
        "L1;Quai;47,475;-0,56;p2",
    ]
    text = "\n".join(rows) + "\n"
    inventory = _write(tmp_path / "lamps.csv", text)
    argv = ["import-lamps", str(inventory), "--street-key", "voie", "--id-key", "ref"]
    assert main([*argv, "--segment-lamps", "1"]) == 0
    out = capsys.readouterr().out
    assert _ends_of(out, "quai-01").startswith("from 47.475000, -0.560000"), "south first"
    segments = _segments(out)
    assert [(s["id"], s["lighting_class"]) for s in segments] == [
        ("quai-01", "P2"),
        ("quai-02", "P2"),
    ]


def test_many_lamps_without_street_show_the_first_five(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = [_feature(f"N{k}", "", 47.47, -0.55) for k in range(8)]
    features.append(_feature("OK", "Rue", 47.47, -0.55))
    inventory = _write(
        tmp_path / "lamps.json", json.dumps({"type": "FeatureCollection", "features": features})
    )
    assert main(["import-lamps", str(inventory)]) == 0
    captured = capsys.readouterr()
    assert "skipped 8 lamp(s) without a street: N0, N1, N2, N3, N4 and 3 more" in captured.err
    assert _segments(captured.out)[0]["length_m"] == 10, "one lamp: the minimum length"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '{"type": "Feature", "geometry": null}',
            "not a GeoJSON FeatureCollection (type: 'Feature')",
        ),
        ('{"type": "FeatureCollection"', "not valid JSON (line 1"),
        (
            "id,name,x,y\n1,Rue,47,0\n",
            "the CSV has no column street and no column lat (or latitude)",
        ),
        ("", "the CSV has no column street"),
        (
            json.dumps(
                {"type": "FeatureCollection", "features": [_feature("A", None, 47, 0, name="Rue")]}
            ),
            "no lamp with both a street ('street') and coordinates (properties or columns seen:"
            " id, street, name); --street-key",
        ),
        ("id,street,lat,lon\nA,Rue,north,west\n", "no lamp with both a street"),
    ],
    ids=["feature", "bad-json", "csv-columns", "empty", "no-street", "no-coordinates"],
)
def test_an_unusable_inventory_exits_2_saying_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    inventory = _write(tmp_path / "lamps.txt", text)
    assert main(["import-lamps", str(inventory)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert says in captured.err


def test_a_missing_inventory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-lamps", str(tmp_path / "none.geojson")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_segment_needs_at_least_one_lamp(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["import-lamps", "x.csv", "--segment-lamps", "0"])
    assert done.value.code == 2
    assert "must be more than 0" in capsys.readouterr().err


def test_street_names_become_identifiers() -> None:
    assert slugify("Rue de l'Église Saint-Maurice") == "rue-de-l-eglise-saint-maurice"
    assert slugify("  Boulevard  Foch (N23) ") == "boulevard-foch-n23"
    assert slugify("北京路").startswith("street-")
    assert len(slugify("Avenue " * 30)) <= 58
    # A street that YAML would read as a number or as nothing is quoted.
    plan = plan_segments([Lamp("1", "2", 47.0, 0.0), Lamp("2", "null", 47.0, 0.0)])
    segments = _segments(segments_yaml(plan, "test"))
    assert [s["street"] for s in segments] == ["2", "null"]


# --- every lamp in exactly one segment ---------------------------------------------------------

_points = st.lists(
    st.tuples(
        st.sampled_from(["Rue A", "Quai B", "rue a", "Place de l'Hôtel-de-Ville", "7", "?"]),
        st.floats(47.46, 47.48),
        st.floats(-0.56, -0.54),
    ),
    min_size=1,
    max_size=40,
)
_cuts = st.one_of(
    st.integers(1, 6).map(lambda n: (n, None)), st.floats(5, 400).map(lambda m: (None, m))
)


@settings(deadline=None)
@given(points=_points, cut=_cuts)
def test_every_lamp_is_in_exactly_one_segment(
    points: list[tuple[str, float, float]], cut: tuple[int | None, float | None]
) -> None:
    lamps = [Lamp(f"L{i}", street, lat, lon) for i, (street, lat, lon) in enumerate(points)]
    plan = plan_segments(lamps, *cut)
    placed = Counter(lamp_id for s in plan.segments for lamp_id in s.lamp_ids)
    assert placed == Counter(lamp.id for lamp in lamps)
    for segment in plan.segments:
        assert segment.lamp_ids
        assert {slugify(lamps[int(i[1:])].street) for i in segment.lamp_ids} == {segment.street}
    per_street: dict[str, list[int]] = {}
    for segment in plan.segments:
        per_street.setdefault(segment.street, []).append(segment.order)
    assert all(orders == list(range(1, len(orders) + 1)) for orders in per_street.values())
    if cut[0] is not None:
        assert all(len(s.lamp_ids) <= cut[0] for s in plan.segments)
    segments = _segments(segments_yaml(plan, "generated"))
    assert [s["lamps"] for s in segments] == [len(s.lamp_ids) for s in plan.segments]


def test_read_inventory_tells_geojson_from_csv() -> None:
    geojson = read_inventory(json.dumps(_geojson()))
    assert len(geojson.lamps) == 11
    csv_text = "id,street,lat,lon\nA,Rue,47.47,-0.55\n"
    assert read_inventory(csv_text).lamps == [Lamp("A", "Rue", 47.47, -0.55)]
