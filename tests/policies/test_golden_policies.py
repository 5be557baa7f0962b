"""Golden policy cases: a timeline of readings and overrides in, the expected levels out.

Each folder of tests/policies holds `case.yaml` (start time, tick, what it shows), a
`policy.yaml` (and any policy it reloads), `input.jsonl` (events at seconds after the start)
and `expected.jsonl` (checkpoints: every segment's "level reason ramp_s"). The site is
tests/policies/site.yaml unless the case names its own. The timeline runs through
`gateway.lighting.control.Lighting`, the daemon's own seam, stepped every tick as the daemon does.
`LUCIOLE_UPDATE_GOLDEN=1` rewrites expected.jsonl from what the code does (then read the diff).
"""

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.engine import REASON_NAMES
from controllers.settings import Policy, SiteConfig
from controllers.settings.loader import load_model
from gateway.ingest.readings import BinReading, PedestrianReading
from gateway.lighting.control import Lighting
from gateway.wire.payloads import OverrideMessage

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.iterdir() if (p / "case.yaml").is_file())
UPDATE = os.environ.get("LUCIOLE_UPDATE_GOLDEN") == "1"


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def policy_of(path: Path) -> Policy:
    return load_model(Policy, path.read_text(), str(path))


@dataclass
class Case:
    folder: Path
    start_s: float
    tick_s: float
    site: SiteConfig
    events: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> "Case":
        spec = yaml.safe_load((folder / "case.yaml").read_text())
        site_file = folder / spec.get("site", "../site.yaml")
        return cls(
            folder=folder,
            start_s=datetime.fromisoformat(spec["start"]).timestamp(),
            tick_s=float(spec.get("tick_s", 1)),
            site=load_model(SiteConfig, site_file.read_text(), str(site_file)),
            events=jsonl(folder / "input.jsonl"),
            checks=jsonl(folder / "expected.jsonl"),
        )

    def times(self) -> list[float]:
        end_s = max(e["t_s"] for e in [*self.events, *self.checks])
        ticks = {round(k * self.tick_s, 6) for k in range(int(end_s // self.tick_s) + 1)}
        return sorted(ticks | {e["t_s"] for e in self.events} | {c["t_s"] for c in self.checks})

    def apply(self, lighting: Lighting, event: dict[str, Any], now_s: float) -> None:
        """One input event, as the daemon hands it to the lighting."""
        if "walker" in event:
            device = event["walker"]
            reading = PedestrianReading(
                device_id=device,
                segment=self.site.devices[device].segment,
                ts_s=now_s,
                count=event.get("count", 1),
                period_s=0,
                direction=event.get("direction"),
            )
            lighting.accept(reading, now_s)
        elif "reading" in event:
            device = event["reading"]
            segment = self.site.devices[device].segment
            lighting.accept(BinReading(device_id=device, segment=segment, ts_s=now_s), now_s)
        elif "override" in event:
            fields = {k: v for k, v in event.items() if k not in ("t_s", "override")}
            applied = lighting.override(event["override"], OverrideMessage(**fields), now_s)
            assert not isinstance(applied, str), applied
        elif "policy" in event:
            lighting.replace_policy(policy_of(self.folder / event["policy"]))
        else:
            raise AssertionError(f"unknown event {event}")

    def run(self) -> list[dict[str, Any]]:
        """The checkpoints of expected.jsonl with what the code gives at their times."""
        lighting = Lighting(self.site, policy_of(self.folder / "policy.yaml"), self.start_s)
        found = []
        for t in self.times():
            for event in (e for e in self.events if e["t_s"] == t):
                self.apply(lighting, event, self.start_s + t)
            lighting.commands(self.start_s + t)
            found += [{**c, "levels": levels(lighting)} for c in self.checks if c["t_s"] == t]
        return found


def levels(lighting: Lighting) -> dict[str, str]:
    """Every segment's "level reason ramp_s" in the last step."""
    step = lighting.last_step
    assert step is not None
    reasons = step.reason
    return {
        segment: f"{step.level[i]:.4g} {REASON_NAMES[reasons[i]]} {step.ramp_s[i]:.4g}"
        for i, segment in enumerate(lighting.topology.ids)
    }


@pytest.mark.parametrize("folder", CASES, ids=lambda p: p.name)
def test_policy_case(folder: Path) -> None:
    """The case's timeline gives the levels, reasons and fades of its expected.jsonl."""
    case = Case.load(folder)
    found = case.run()
    if UPDATE:
        lines = [json.dumps(c, ensure_ascii=False) for c in found]
        (folder / "expected.jsonl").write_text("\n".join(lines) + "\n")
        return
    for want, got in zip(case.checks, found, strict=True):
        assert got["levels"] == want["levels"], f"t_s={want['t_s']}: {want.get('note', '')}"


def test_there_are_cases_and_each_checks_something() -> None:
    """A case without events or checkpoints would test nothing."""
    assert len(CASES) >= 8
    for folder in CASES:
        case = Case.load(folder)
        assert case.events and case.checks, folder
        assert all(c.get("levels") for c in case.checks), (
            f"{folder}: run with LUCIOLE_UPDATE_GOLDEN=1"
        )
