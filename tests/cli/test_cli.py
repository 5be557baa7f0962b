"""The `luciole` command line as an operator uses it: exit codes and messages."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from luciole.main import main

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _luciole(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script installed beside this Python, as a user would."""
    script = Path(sys.executable).parent / "luciole"
    assert script.exists(), "the luciole console script is not installed (pip install -e .)"
    return subprocess.run(
        [str(script), *args], check=False, capture_output=True, text=True, timeout=60
    )


def test_shipped_config_files_are_valid() -> None:
    """`luciole check-config config/*.yaml` accepts the example files and exits 0."""
    files = sorted(str(p) for p in CONFIG.glob("*.yaml"))
    assert files, "config/ must ship example files"
    result = _luciole("check-config", *files)
    assert result.returncode == 0, result.stderr
    assert f"{len(files)} file(s) valid" in result.stdout


def test_misspelt_key_names_file_line_and_suggestion(tmp_path: Path) -> None:
    """A misspelt key exits 2 and names the file, the line and the key it probably meant."""
    policy = tmp_path / "policy.yaml"
    text = (CONFIG / "policy.yaml").read_text()
    policy.write_text(text.replace("ramp_down_s:", "ramp_dwon_s:"))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "ramp_down_s:" in t)
    result = _luciole("check-config", str(policy))
    assert result.returncode == 2
    assert f"{policy}:{line}: presence.ramp_dwon_s: unknown key 'ramp_dwon_s'" in result.stderr
    assert "did you mean 'ramp_down_s'?" in result.stderr


def test_every_problem_of_every_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problems in several files are all listed, each with its own file name."""
    bad_site = tmp_path / "site.yaml"
    bad_site.write_text("site: {id: x, latitude: 95, longitude: 0}\nsegments: []\n")
    bad_policy = tmp_path / "other.yaml"
    bad_policy.write_text("presence:\n  hold_s: -5\n")
    assert main(["check-config", str(bad_site), str(bad_policy)]) == 2
    err = capsys.readouterr().err
    assert f"{bad_site}:1: site.latitude: must be ≤ 90 (got 95)" in err
    assert f"{bad_site}:2: segments: " in err
    assert f"{bad_policy}:2: presence.hold_s: must be ≥ 0 (got -5)" in err


def test_missing_file_is_a_problem_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist is reported as such, with exit 2."""
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_run_refuses_invalid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`luciole run` with a broken site file exits 2 and points to check-config."""
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: x, latitude: 0, longitude: 0}\nsegmnts: []\n")
    assert main(["run", "--config", str(site)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'segments'?" in err
    assert "luciole check-config" in err


def test_help_lists_the_commands() -> None:
    """`luciole --help` shows every command with a one-line description."""
    result = _luciole("--help")
    assert result.returncode == 0
    for command in ("run", "check-config", "demo"):
        assert command in result.stdout


def test_unknown_source_format_and_codec_are_named_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sources:` must name a known format and codec; the error lists the known ones."""
    (tmp_path / "policy.yaml").write_text("{}\n")
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {id: x, latitude: 0, longitude: 0}\n"
        "segments: [{id: s, street: a, order: 1, length_m: 1, rated_power_w: 1}]\n"
        "sources:\n"
        "  - {topic: 'application/+/device/+/event/up', format: chirpstak, codec: vs133}\n"
    )
    assert main(["check-config", str(site)]) == 2
    err = capsys.readouterr().err
    assert f"{site}:4: sources[0].format: unknown format 'chirpstak'; known: native," in err
    assert f"{site}:4: sources[0].codec: unknown codec 'vs133'; known: milesight-vs133," in err


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "third_party"


def test_decode_prints_readings_as_json_lines() -> None:
    """`luciole decode` on a real ChirpStack uplink prints its bin reading and exits 0."""
    payload = FIXTURES / "chirpstack_v4_up_bin_ultrasonic_milesight_em400udl.json"
    result = _luciole(
        "decode", "--format", "chirpstack", "--codec", "milesight-em400udl", str(payload)
    )
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["kind"], row["distance_mm"], row["alarms"]) == ("bin", 2116.0, ["tilt"])


def test_decode_explains_a_refusal_and_exits_2() -> None:
    """The official example with a missing comma is refused as bad JSON, with where."""
    payload = FIXTURES / "ttn_v3_up_docs_example_verbatim_INVALID.json"
    result = _luciole("decode", "--format", "tts", str(payload))
    assert result.returncode == 2
    assert result.stderr.startswith("refused: bad_json: payload is not JSON: Expecting ','")


def test_decode_with_the_site_checks_the_registry(tmp_path: Path) -> None:
    """With --config, a device the site does not know is refused."""
    payload = tmp_path / "p.json"
    payload.write_text('{"count": 1}')
    topic = "luciole/angers-centre/sensor/pedestrian/stranger"
    result = _luciole(
        "decode", "--config", str(CONFIG / "site.yaml"), "--topic", topic, str(payload)
    )
    assert result.returncode == 2
    assert "unknown_device" in result.stderr


def _tts_uplink(tmp_path: Path, frame_hex: str) -> Path:
    """A The Things Stack uplink carrying one frame, written to a file."""
    up = {"f_port": 85, "frm_payload": base64.b64encode(bytes.fromhex(frame_hex)).decode()}
    envelope = {"end_device_ids": {"dev_eui": "24E1641092176759"}, "uplink_message": up}
    path = tmp_path / "uplink.json"
    path.write_text(json.dumps(envelope))
    return path


def test_decode_without_a_format_reads_the_shape_and_says_so() -> None:
    """A ChirpStack uplink decodes without --format; stderr says which format was picked."""
    payload = FIXTURES / "chirpstack_v4_up_bin_ultrasonic_milesight_em400udl.json"
    result = _luciole("decode", "--codec", "milesight-em400udl", str(payload))
    assert result.returncode == 0, result.stderr
    assert "read as chirpstack, from its shape (a ChirpStack v4 event" in result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["kind"] == "bin"


def test_decode_refusal_says_what_the_device_sent(tmp_path: Path) -> None:
    """A VS350 battery and temperature frame is refused, in one line that says its fields."""
    uplink = _tts_uplink(tmp_path, "01756403670c01")  # battery 100 %, 26.8 °C
    result = _luciole("decode", "--format", "tts", "--codec", "milesight-vs350", str(uplink))
    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.splitlines()
    assert line.startswith("refused: no_readings: codec milesight-vs350 found no reading")
    assert '"fields": {"battery": 100, "temperature": 26.8}' in line


def test_decode_counts_the_period_of_a_counters_first_frame(tmp_path: Path) -> None:
    """The VS350 README's totals and period frame: its first totals are a baseline, and its
    period counts (19 in, 20 out) are walkers."""
    uplink = _tts_uplink(tmp_path, "04cc1200160005cc13001400")
    result = _luciole("decode", "--format", "tts", "--codec", "milesight-vs350", str(uplink))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["count"], r["direction"]) for r in rows] == [(19, "forward"), (20, "backward")]


def test_decode_says_why_an_accepted_frame_has_no_reading(tmp_path: Path) -> None:
    """A VS133 baseline with empty periods: exit 0, nothing on stdout, why and what on stderr."""
    uplink = _tts_uplink(tmp_path, "03d24800000004d2c800000005cc00000000")  # 72, 200, 0, 0
    result = _luciole("decode", "--format", "tts", "--codec", "milesight-vs133", str(uplink))
    assert (result.returncode, result.stdout) == (0, "")
    assert "no reading yet: a counter's first total is its baseline" in result.stderr
    assert '"line_1_total_in": 72' in result.stderr


def test_export_dumps_the_spool_as_line_protocol_and_csv(tmp_path: Path) -> None:
    """`luciole export` writes the spooled readings in the time range, in either format."""
    from gateway.ingest.readings import Spooled, WaterReading
    from gateway.store.spool import Spool

    (tmp_path / "policy.yaml").write_text("{}\n")
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {id: x, latitude: 0, longitude: 0}\n"
        "segments: [{id: s, street: a, order: 1, length_m: 1, rated_power_w: 1}]\n"
    )
    spool = Spool(tmp_path / "spool" / "luciole.db")
    for hour in range(3):  # 2026-01-01 00:00, 01:00, 02:00 UTC
        reading = WaterReading(
            device_id="m", segment="s", ts_s=1767225600 + hour * 3600, total_m3=10 + hour
        )
        spool.append([Spooled(reading, f"m:{hour}")])
    spool.close()
    window = ["--since", "2026-01-01T01:00:00Z", "--until", "2026-01-01T02:00:00Z"]
    lines = _luciole("export", "--config", str(site), *window)
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout == "water,device_id=m,segment=s total_m3=11.0 1767229200000000000\n"
    table = _luciole("export", "--config", str(site), "--since", "2026-01-01", "--format", "csv")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0] == "ts,kind,device_id,segment,field,value"
    assert len(table.stdout.splitlines()) == 1 + 3
