"""Offline mode for a services scenario: a month of bins and meters through the daemon's own
pipeline, its detections scored against the ground truth.

The messages go through `sim.runs.offline.Pipeline` (the daemon's dispatch: intake, registry,
de-duplication, city services) at the time they were sent; the services' step runs as the
daemon's receive loop runs it, after each batch, here every `BATCH_S` of simulated time (the
daemon's batches are what arrived together, far shorter; the rules take each reading at its
own time either way, and the time-driven rules run every minute in both). Every hour the run
samples what an operator would see: each bin's forecast and the collection list.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controllers.settings import Policy
from sim.devices.services import ServicesDevices, ServicesTruth
from sim.report.services import Detections, score
from sim.runs.offline import Pipeline
from sim.world.services import load_services_scenario
from sim.world.services_district import ServicesWorld, build_services_world

BATCH_S = 60.0
SAMPLE_S = 3600.0

Progress = Callable[[float], None]


@dataclass(frozen=True, eq=False)
class ServicesRun:
    """What a month gave: the world, its truth, the daemon's detections and their scores."""

    world: ServicesWorld
    devices: ServicesDevices
    detections: Detections
    scores: dict[str, float]
    messages: int
    rejected: int


def load_services(path: Path, seed: int | None = None) -> ServicesWorld:
    """The scenario's world (the site, its bins and meters), for `seed` or the file's."""
    return build_services_world(load_services_scenario(path), seed)


def run_services(
    world: ServicesWorld, policy: Policy, progress: Progress | None = None
) -> ServicesRun:
    """The month through the pipeline; scored."""
    devices = ServicesDevices(world)
    truth = devices.truth
    pipeline = Pipeline(world.site, policy, truth.start_s)
    detections = Detections()
    total = max(devices.message_count, 1)
    next_batch_s, next_sample_s = truth.start_s + BATCH_S, truth.start_s + SAMPLE_S
    count = 0
    for message in devices.messages():
        while message.ts_s >= next_batch_s:
            _serve(pipeline, detections, next_batch_s)
            next_batch_s += BATCH_S
        while message.ts_s >= next_sample_s:
            _sample(pipeline, detections, next_sample_s, policy.bins.due_within_s)
            next_sample_s += SAMPLE_S
        pipeline.message(message.topic, message.payload, message.ts_s)
        count += 1
        if progress is not None and count % 20_000 == 0:
            progress(count / total)
    _serve(pipeline, detections, truth.end_s)
    scores = score(truth, detections, policy.bins.due_within_s)
    rejected = sum(n for key, n in pipeline.stats.items() if key.startswith("rejected_"))
    return ServicesRun(world, devices, detections, scores, count, rejected)


def _serve(pipeline: Pipeline, detections: Detections, now_s: float) -> None:
    served = pipeline.serve(now_s)
    detections.alerts += served.alerts
    detections.emptyings += served.emptyings


def _sample(pipeline: Pipeline, detections: Detections, now_s: float, within_s: float) -> None:
    """What an operator would see at `now_s`: each bin's forecast and the urgent list."""
    city = pipeline.city
    for bin_id, forecast_s in zip(city.bins.ids, city.forecasts_s(now_s), strict=True):
        detections.forecasts.setdefault(bin_id, []).append((now_s, forecast_s))
    urgent = [d.device for d in city.due(now_s, within_s) if d.urgency == "urgent"]
    detections.due.append((now_s, urgent))


def summary(run: ServicesRun, policy_name: str, seed: int) -> dict[str, object]:
    """summary.json: the scores, rounded, with what was run."""
    truth: ServicesTruth = run.devices.truth
    return {
        "scenario": run.world.scenario.name,
        "policy": policy_name,
        "seed": seed,
        "days": run.world.scenario.days,
        "bins": len(truth.bin_ids),
        "meters": len(truth.meter_ids),
        "messages": run.messages,
        "rejected": run.rejected,
        "true_leaks": len(truth.leaks),
        "true_emptyings": len(truth.emptyings),
        "alerts_raised": sum(1 for a in run.detections.alerts if a[4]),
        "true_missed_pickups": len(truth.missed_pickups),
        "missed_pickup_alerts": sum(
            1 for kind, *_, active in run.detections.alerts if kind == "missed_pickup" and active
        ),
        **{k: (None if math.isnan(v) else round(v, 4)) for k, v in run.scores.items()},
    }
