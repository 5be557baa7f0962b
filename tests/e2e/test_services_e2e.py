"""A leaking meter on a real broker: its readings in, the leak alert out, retained; a `kill -9`
right after the alert went out (its batch not yet stored) neither loses the leak nor raises
it twice, and the daemon that comes back is the one that ends it."""

import json
import os
import signal
import time
import uuid
from pathlib import Path

import aiomqtt
import pytest

from gateway.handling import HOLD_AFTER_ALERT_ENV
from gateway.store.spool import Spool
from tests.conftest import Embedded, Mosquitto
from tests.e2e.support import Alerts, running_daemon, stderr_until, write_site

QUARTER_S = 900.0
LEAK_M3H = 0.02  # 20 L/h, never a dry hour: a leak by the meters' rule after a day
HOURS = 30


def _readings(
    start_s: float, quarters: int, seq0: int, total0: float, rate_m3h: float
) -> tuple[list[str], float]:
    """A meter's quarter-hourly readings as payloads, and its index after them."""
    total = total0
    out: list[str] = []
    for k in range(quarters):
        total += rate_m3h * QUARTER_S / 3600.0
        body = {"ts": start_s + k * QUARTER_S, "seq": seq0 + k, "total_m3": round(total, 4)}
        out.append(json.dumps(body))
    return out, total


async def test_a_leak_survives_a_kill_inside_its_window_and_is_ended_once(
    tmp_path: Path, own_broker: Mosquitto | Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 h of 20 L/h: the leak is raised; killed while its batch waits to be stored, the
    daemon comes back, takes the redelivered readings and raises the very same alert; after a
    clean stop it restores the leak and republishes it unchanged; killed again and restarted,
    two dry hours end it. Every start message is the first one; the spool holds one start and
    one end, and the broker keeps the end."""
    if isinstance(own_broker, Embedded):
        pytest.skip(
            "amqtt drops a persistent session's subscriptions on disconnect; needs mosquitto"
        )
    site_id = f"leak-{uuid.uuid4().hex[:8]}"
    site = write_site(tmp_path, own_broker.info, site_id, "30%")
    meter = Meter(f"luciole/{site_id}", (time.time() // 3600 - HOURS - 2) * 3600)
    async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier=f"t-{site_id}") as c:
        alerts = Alerts(c, meter.root)
        await c.subscribe(f"{meter.root}/alert/#", qos=1)
        first = await _raised_then_killed_in_the_window(site, c, alerts, meter, monkeypatch)
        await _redelivered_then_restored(site, alerts, first)
        ended = await _ended_by_dry_hours(site, c, alerts, meter)
        assert ended["since"] == first["since"], "the leak the first daemon raised ended"
        raised = [b for _, b in alerts.seen if b["type"] == "water_leak" and b["active"]]
        assert all(b == first for b in raised), "never a second leak"
    async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier=f"r-{site_id}") as c:
        retained = Alerts(c, meter.root)
        await c.subscribe(f"{meter.root}/alert/water_leak/meter-1", qos=1)
        assert (await retained.until("water_leak", False))["since"] == first["since"]
    spool = Spool(tmp_path / "spool" / "luciole.db")
    leak_rows = [
        body
        for _, body in spool.unwritten(100_000)
        if body["kind"] == "alert" and body.get("type") == "water_leak"
    ]
    assert [r["active"] for r in leak_rows] == [True, False], "stored once each"


class Meter:
    """meter-1 of the site: its topic, and 30 h of 20 L/h readings from `start_s`."""

    def __init__(self, root: str, start_s: float) -> None:
        self.root, self.start_s = root, start_s
        self.topic = f"{root}/sensor/water/meter-1"
        self.leaking, self.total_m3 = _readings(start_s, HOURS * 4, 0, 100.0, LEAK_M3H)


async def _raised_then_killed_in_the_window(
    site: Path,
    client: aiomqtt.Client,
    alerts: Alerts,
    meter: Meter,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, object]:
    """The leak's readings in, the alert out; the daemon killed before it stored the batch."""
    hold = site.parent / "hold"
    os.mkfifo(hold)  # nobody writes to it: the daemon waits there until it is killed
    monkeypatch.setenv(HOLD_AFTER_ALERT_ENV, str(hold))
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        for body in meter.leaking:
            await client.publish(meter.topic, body, qos=1)
        first = await alerts.until("water_leak", True)
        await stderr_until(daemon, "test hook: holding after an alert")
        daemon.kill()  # inside the window: alert out, its batch neither stored nor acked
        await daemon.wait()
    monkeypatch.delenv(HOLD_AFTER_ALERT_ENV)
    assert first["device"] == "meter-1"
    assert float(str(first["rate_m3h"])) == pytest.approx(LEAK_M3H, rel=0.05)
    assert float(str(first["since"])) == pytest.approx(meter.start_s, abs=3600)
    return first


async def _redelivered_then_restored(site: Path, alerts: Alerts, first: dict[str, object]) -> None:
    """Back up, the redelivered readings raise the same alert; stopped cleanly and started
    again, the daemon restores the leak and republishes it unchanged; then killed."""
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "connected")
        again = await alerts.until("water_leak", True)  # redelivered, raised the same
        assert again == first, "the same alert, not a second leak"
        daemon.send_signal(signal.SIGTERM)
        await stderr_until(daemon, "stopped")
    async with running_daemon(site) as daemon:
        restored = await stderr_until(daemon, "city services restored")
        assert "active_alerts=1" in restored
        assert await alerts.until("water_leak", True) == first  # republished, unchanged
        daemon.kill()
        await daemon.wait()


async def _ended_by_dry_hours(
    site: Path, client: aiomqtt.Client, alerts: Alerts, meter: Meter
) -> dict[str, object]:
    """Restarted after the kill, two dry hours end the leak it restored."""
    dry, _ = _readings(meter.start_s + HOURS * 3600, 8, HOURS * 4, meter.total_m3, 0.0)
    async with running_daemon(site) as daemon:
        await stderr_until(daemon, "city services restored")
        for body in dry:
            await client.publish(meter.topic, body, qos=1)
        ended = await alerts.until("water_leak", False)
        daemon.send_signal(signal.SIGTERM)
        await stderr_until(daemon, "stopped")
    return ended
