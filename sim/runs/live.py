"""Live-mode plumbing shared by the demo and scenario runs: devices that reconnect after the
broker comes back, and the outages a scenario asks for (the broker, the database), switched
at their simulated times by whoever owns those services."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiomqtt

from sim.runs.clock import AcceleratedClock
from sim.world.scenario import Window


class Switch(Protocol):
    """Something the run can take away and bring back: a broker, a database."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def device_task(
    connect: Callable[[], aiomqtt.Client],
    first: aiomqtt.Client,
    body: Callable[[aiomqtt.Client], Awaitable[None]],
    name: str,
) -> "asyncio.Task[None]":
    """Run a device's `body` on its connection; when the broker goes away later, reconnect
    as a real device would (its messages wait in its outbox meanwhile)."""

    async def serve() -> None:
        client, delay_s = first, 0.05
        while True:
            try:
                if client is first:
                    await body(client)
                else:
                    async with client:
                        delay_s = 0.05
                        await body(client)
            except aiomqtt.MqttError:
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 1.0)
            client = connect()

    return asyncio.create_task(serve(), name=name)


def outage_tasks(
    clock: AcceleratedClock,
    start_s: float,
    plan: list[tuple[str, list[Window], "Switch | None"]],
) -> list["asyncio.Task[None]"]:
    """Tasks that stop and start the broker and the database at the scenario's windows."""
    tasks = []
    for what, windows, switch in plan:
        if windows and switch is None:
            raise ValueError(f"{what}_outage needs a {what} this run can stop and start")
        if windows and switch is not None:
            coro = _outages(clock, start_s, windows, switch)
            tasks.append(asyncio.create_task(coro, name=f"the {what} outages"))
    return tasks


async def _outages(
    clock: AcceleratedClock, start_s: float, windows: list[Window], switch: Switch
) -> None:
    for window in sorted(windows, key=lambda w: w.at_s):
        await clock.sleep(start_s + window.at_s - clock.now())
        await asyncio.to_thread(switch.stop)
        await clock.sleep(start_s + window.at_s + window.for_s - clock.now())
        await asyncio.to_thread(switch.start)
    await asyncio.Event().wait()  # background tasks must outlive the night
