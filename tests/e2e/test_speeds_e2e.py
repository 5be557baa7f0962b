"""Learnt walking speeds outlive the daemon: a previous run's samples are restored at start,
stored again on the way out, and shown by `luciole status` from the spool."""

import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path

from gateway.lighting import persist
from gateway.store.spool import Spool, state_row
from tests.conftest import BrokerInfo
from tests.e2e.support import TIMEOUT_S, running_daemon, stderr_until, write_site

SAMPLES = [round(0.9 + k / 50, 4) for k in range(30)]  # 0.9 to 1.48 m/s


async def _status(site: Path) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "luciole.main",
        "status",
        "--config",
        str(site),
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT_S):
        out, _ = await process.communicate()
    assert process.returncode == 0
    found: dict[str, object] = json.loads(out)
    return found


async def test_learnt_speeds_come_back_after_a_restart_and_are_shown(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """30 samples of street `main` in the spool: restored (logged), kept at the stop, and
    `luciole status` reports the street's fast and slow walkers from them."""
    site = write_site(tmp_path, broker, f"speeds-{uuid.uuid4().hex[:8]}", "30%")
    (tmp_path / "policy.yaml").write_text(
        "schedule: {night_level: 30%}\n"
        "presence: {level: 100%, hold_s: 60s, occupancy: true, learn_speeds: true}\n"
        "speeds: {min_samples: 20}\n"
    )
    spool_path = tmp_path / "spool" / "luciole.db"
    spool_path.parent.mkdir()
    spool = Spool(spool_path)
    body = json.dumps({"version": 1, "streets": {"main": SAMPLES}})
    spool.append_rows([state_row(persist.ROOM, persist.SPEEDS, 0.0, body)])
    spool.close()
    async with running_daemon(site) as daemon:
        restored = await stderr_until(daemon, "lighting restored")
        assert f"speed_samples={len(SAMPLES)}" in restored
        daemon.send_signal(signal.SIGTERM)
        await stderr_until(daemon, "stopped")
    stored = Spool(spool_path)
    kept = json.loads(stored.state(persist.ROOM)[persist.SPEEDS])
    stored.close()
    assert kept["streets"]["main"] == SAMPLES  # stored again on the way out, unchanged
    status = await _status(site)
    speeds = status["speeds"]
    assert isinstance(speeds, list)
    (main,) = [s for s in speeds if s["street"] == "main"]
    assert main["samples"] == len(SAMPLES)
    assert main["fast_mps"] is not None and 1.3 <= main["fast_mps"] <= 1.48
    assert main["slow_mps"] is not None and 0.9 <= main["slow_mps"] <= 1.0
