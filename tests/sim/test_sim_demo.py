"""`run_demo` against a real broker: the night runs, ends on its own, and gateway failures
surface instead of hanging."""

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from controllers.settings import Policy, SiteConfig
from controllers.settings.site import BrokerSettings
from gateway.wire.clock import Clock
from gateway.wire.payloads import LampCommand, PedestrianPayload
from gateway.wire.topics import Topics
from sim.runs.demo import DemoOptions, night_window, run_demo

NIGHT = dt.date(2025, 1, 15)
GUARD_S = 60.0  # a hang fails the test instead of blocking the run
# Simulating the whole demo night takes about 2 s of CPU (10 s sub-steps walk its 16 h), so a
# night in a few seconds of wall time starves the broker clients on a loaded box, and the
# stand-in gateway can connect after the night is over. Its first two hours (0.3 s of CPU)
# leave the event loop mostly idle whatever the load.
EVENING_S = 2 * 3600.0


def _on_broker(site: SiteConfig, broker: Any) -> SiteConfig:
    """The site on the test broker, under a topic prefix of its own."""
    settings = BrokerSettings(url=broker.url, topic_prefix=f"t{uuid.uuid4().hex[:12]}")
    return site.model_copy(update={"broker": settings})


def _options(
    tmp_path: Path, duration_s: float = 4.0, window: tuple[float, float] | None = None
) -> DemoOptions:
    return DemoOptions(
        out_dir=tmp_path, duration_s=duration_s, seed=3, date=NIGHT, live=False, window=window
    )


def test_night_window_frames_the_night(demo_site: SiteConfig) -> None:
    """The window opens 20 min before sunset and closes 20 min after the next sunrise."""
    start_s, end_s = night_window(demo_site, NIGHT)
    zone = ZoneInfo(demo_site.site.timezone)
    start, end = dt.datetime.fromtimestamp(start_s, zone), dt.datetime.fromtimestamp(end_s, zone)
    assert (start.date(), end.date()) == (NIGHT, NIGHT + dt.timedelta(days=1))
    assert dt.time(16, 45) < start.time() < dt.time(17, 45)
    assert dt.time(8, 30) < end.time() < dt.time(9, 30)


async def test_demo_runs_a_night_through_the_broker(
    broker: Any, tmp_path: Path, demo_site: SiteConfig, demo_policy: Policy
) -> None:
    """Over the first hours of a night, sensor payloads reach a gateway stand-in, its lamp
    command reaches the lamps, and the demo ends by itself with the report written."""
    site = _on_broker(demo_site, broker)
    topics = Topics(site.broker.topic_prefix, site.site.id)
    detections: list[PedestrianPayload] = []

    async def gateway(clock: Clock) -> None:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe(topics.sensors, qos=1)
            command = LampCommand(level=1.0, ramp_s=0, reason="override", seq=1, ts=clock.now())
            segment = site.segments[0].id
            # Retained, as the daemon sends it: the lamps have it whenever they subscribe.
            body = command.model_dump_json()
            await client.publish(topics.lamp_set(segment), body, qos=1, retain=True)
            async for message in client.messages:
                parsed = topics.parse_sensor(message.topic.value)
                if parsed is not None and parsed[0] == "pedestrian":
                    detections.append(PedestrianPayload.model_validate_json(message.payload))

    async with asyncio.timeout(GUARD_S):
        start_s, _ = night_window(site, NIGHT)
        options = _options(tmp_path, window=(start_s, start_s + EVENING_S))
        result = await run_demo(site, demo_policy, options, gateway)
    assert result.summary["commands"] >= 1
    assert result.summary["walkers"] > 0
    assert detections, "no pedestrian payload reached the gateway"
    assert json.loads(result.summary_json.read_text())["site"] == "angers-centre"
    assert result.plot_png.read_bytes()[:4] == b"\x89PNG"


async def test_gateway_error_ends_the_demo(
    broker: Any, tmp_path: Path, demo_site: SiteConfig, demo_policy: Policy
) -> None:
    """An exception in the gateway task propagates out of run_demo, long before the night ends."""

    async def gateway(clock: Clock) -> None:
        raise RuntimeError("gateway exploded")

    async with asyncio.timeout(GUARD_S):
        with pytest.raises(RuntimeError, match="gateway exploded"):
            await run_demo(
                _on_broker(demo_site, broker), demo_policy, _options(tmp_path, 600), gateway
            )


async def test_gateway_that_stops_early_is_an_error(
    broker: Any, tmp_path: Path, demo_site: SiteConfig, demo_policy: Policy
) -> None:
    """A gateway that returns before the night is over is reported, not silently ignored."""

    async def gateway(clock: Clock) -> None:
        return None

    async with asyncio.timeout(GUARD_S):
        with pytest.raises(RuntimeError, match="stopped before the end"):
            await run_demo(
                _on_broker(demo_site, broker), demo_policy, _options(tmp_path, 600), gateway
            )
