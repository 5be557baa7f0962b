"""Offline replay throughput: sensor events per second through the controller, vectorised.

A city of `--streets` streets of 20 segments, a native event counter on every other segment,
busy walkers: the simulator makes a trace of its pedestrian messages (not timed). Then, in
this process on the same trace:
- decode: every message through the daemon's intake once (`sim.runs.offline.decode_events`), timed
  and reported, but not part of the headline: a trace is decoded once and replayed many times
  (one per policy compared);
- baseline: the exact path, message by message through intake and lighting as the daemon
  does (`sim.runs.offline.Pipeline`), on the first `--baseline` messages;
- replay (the headline): the decoded events, tick by tick, as batches into the engine and the
  command filter (`sim.runs.offline.BatchPipeline`); the commands due come out as arrays (offline
  nothing is sent, so no MQTT payload is built: that is not timed because it is not done).
The last line is `{"bench": "replay", "events": n, "events_per_s": ..}`; the line before it
has the decode and baseline rates and the ratio. `--smoke` is the CI run: a few streets for a
minute, to show that the benchmark still runs (not a measure).
"""

import argparse
import json
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from controllers.settings import Policy, SiteConfig
from sim.runs.build import World
from sim.runs.district import District
from sim.runs.offline import BatchPipeline, Events, Pipeline, decode_events
from sim.world.rates import Rates

SEGMENTS = 20
START_S = 1_736_982_000.0  # 00:00 in Paris, 16 January 2025: lit all through
SMOKE = {"streets": 5, "minutes": 1.0, "baseline": 200}


def city(streets: int) -> SiteConfig:
    segments = [
        {"id": f"s{s}-{i}", "street": f"s{s}", "order": i, "length_m": 30, "rated_power_w": 50}
        for s in range(streets)
        for i in range(SEGMENTS)
    ]
    devices = {
        f"c{s}-{i}": {"kind": "pedestrian", "segment": f"s{s}-{i}"}
        for s in range(streets)
        for i in range(0, SEGMENTS, 2)
    }
    return SiteConfig.model_validate(
        {
            "site": {
                "id": "bench",
                "latitude": 47.47,
                "longitude": -0.55,
                "timezone": "Europe/Paris",
            },
            "segments": segments,
            "devices": devices,
        }
    )


def trace(site: SiteConfig, minutes: float, rate_per_h: float) -> list[tuple[float, str, bytes]]:
    """The counters' messages of `minutes` of walkers, as (receive time, topic, payload)."""
    from sim.runs.build import world_from_site  # noqa: PLC0415

    zone = ZoneInfo(site.site.timezone)
    streets = len({s.street for s in site.segments})
    base = world_from_site(site)
    world = World(site, Rates.flat(zone, streets, [rate_per_h] * 24), base.counters)
    end_s = START_S + minutes * 60
    district = District(site, Policy(), START_S, end_s, seed=1, world=world, max_step_s=1.0)
    out: list[tuple[float, str, bytes]] = []
    now_s = START_S
    while now_s < end_s:
        now_s += 1.0
        out += [(m.send_s, m.topic, m.body) for m in district.advance(now_s)]
    return out


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = work()
    return value, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streets", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0, help="walkers per hour per street")
    parser.add_argument("--baseline", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help=f"CI's tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes become the defaults: an option given still wins
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    limit: int = args.baseline
    site = city(args.streets)
    policy = Policy()
    messages = trace(site, args.minutes, args.rate)
    events, decode_s = timed(lambda: decode_events(site, messages))
    assert isinstance(events, Events) and len(events) == len(messages)

    def baseline() -> int:
        pipeline = Pipeline(site, policy, START_S)
        next_tick_s = START_S
        for received_s, topic, payload in messages[:limit]:
            while next_tick_s <= received_s:
                pipeline.tick(next_tick_s)
                next_tick_s += site.tick_s
            pipeline.message(topic, payload, received_s)
        return min(limit, len(messages))

    exact, exact_s = timed(baseline)
    batch = BatchPipeline(site, policy, START_S)
    commands, replay_s = timed(lambda: batch.run(events, site.tick_s))
    rate = len(events) / replay_s
    detail = {
        "bench": "replay-detail",
        "segments": len(site.segments),
        "counters": len(site.devices),
        "ticks": round(args.minutes * 60 / site.tick_s),
        "commands": commands,
        "decode_events_per_s": round(len(events) / decode_s),
        "baseline_events_per_s": round(exact / exact_s),
        "ratio_vs_baseline": round(rate / (exact / exact_s), 1),
    }
    print(json.dumps(detail))
    print(json.dumps({"bench": "replay", "events": len(events), "events_per_s": round(rate)}))


if __name__ == "__main__":
    main()
