"""Lamp feedback against commands: dimming failures, lamp failures, lamps burning by day."""

import numpy as np

from controllers.feedback import AlertChange, Commanded, Monitor
from controllers.settings import SiteConfig
from controllers.settings.policy import Alerts
from controllers.topology import Topology, topology_from_site

RULES = Alerts(tolerance=0.05, delay_s=60, min_power_share=0.5)


def topology() -> Topology:
    site = SiteConfig.model_validate(
        {
            "site": {"id": "t", "latitude": 0, "longitude": 0},
            "segments": [
                {"id": f"s{n}", "street": "m", "order": n, "length_m": 30, "rated_power_w": 40}
                for n in range(3)
            ],
        }
    )
    return topology_from_site(site)


def told(level: float, *, lit: bool = True, override: bool = False, at_s: float = 0.0) -> Commanded:
    return Commanded(
        level=np.full(3, level, dtype=np.float32),
        at_s=np.full(3, at_s),
        ramp_s=np.full(3, 10.0, dtype=np.float32),
        lit=np.full(3, lit),
        override=np.full(3, override),
    )


def kinds(changes: list[AlertChange]) -> set[tuple[str, int, bool]]:
    return {(c.kind, c.segment, c.active) for c in changes}


def test_a_stuck_lamp_is_a_dimming_failure_after_the_fade_and_the_delay() -> None:
    """Reporting 1.0 when told 0.3: nothing during the fade or the delay, then the alert."""
    monitor = Monitor(topology())
    monitor.report(1, 1.0, 40.0, "ok")
    for segment in (0, 2):
        monitor.report(segment, 0.3, 12.0, "ok")
    assert monitor.evaluate(told(0.3), 5.0, RULES) == []  # still fading
    assert monitor.evaluate(told(0.3), 11.0, RULES) == []  # mismatch starts: delay runs
    changes = monitor.evaluate(told(0.3), 71.0, RULES)
    assert kinds(changes) == {("dimming_failure", 1, True)}
    assert (changes[0].commanded, changes[0].actual, changes[0].since_s) == (
        float(np.float32(0.3)),  # the float32 command, widened
        1.0,
        11.0,
    )
    monitor.report(1, 0.3, 12.0, "ok")
    assert kinds(monitor.evaluate(told(0.3), 72.0, RULES)) == {("dimming_failure", 1, False)}


def test_a_lamp_that_says_it_failed_is_reported_at_once() -> None:
    """status failed raises lamp_failure on the first look, not a dimming failure."""
    monitor = Monitor(topology())
    monitor.report(0, 0.0, 0.5, "failed")
    assert kinds(monitor.evaluate(told(0.5), 20.0, RULES)) == {("lamp_failure", 0, True)}


def test_a_lamp_drawing_too_little_has_failed_after_the_delay() -> None:
    """At level 0.5 a 40 W lamp should draw about 20 W; 2 W means its light source is dead."""
    monitor = Monitor(topology())
    monitor.report(2, 0.5, 2.0, "ok")
    assert monitor.evaluate(told(0.5), 11.0, RULES) == []
    assert kinds(monitor.evaluate(told(0.5), 80.0, RULES)) == {("lamp_failure", 2, True)}


def test_a_lamp_burning_by_day_is_unexpected_unless_overridden() -> None:
    """By day, a lamp at its fallback level is lamp_unexpected_on; with an override it is not."""
    monitor = Monitor(topology())
    monitor.report(0, 1.0, 40.0, "fallback")
    assert monitor.evaluate(told(0.0, lit=False), 11.0, RULES) == []
    changes = monitor.evaluate(told(0.0, lit=False), 75.0, RULES)
    assert kinds(changes) == {("lamp_unexpected_on", 0, True)}
    overridden = Monitor(topology())
    overridden.report(0, 1.0, 40.0, "ok")
    assert overridden.evaluate(told(1.0, lit=False, override=True), 200.0, RULES) == []


def test_a_lamp_never_commanded_or_never_heard_raises_nothing() -> None:
    """No command yet, or no report yet: nothing to compare."""
    monitor = Monitor(topology())
    monitor.report(0, 0.7, 30.0, "ok")
    assert monitor.evaluate(told(-np.inf), 500.0, RULES) == []
    assert Monitor(topology()).evaluate(told(0.3), 500.0, RULES) == []


def test_a_restored_alert_is_held_until_the_lamp_is_told_again_and_then_not_raised_twice() -> None:
    """A stuck lamp's alert from before a restart: while the restart's first command fades
    (or none was sent yet) it is neither ended nor raised; settled and still stuck, it stays
    as it was (same since, no change); the lamp fixed, it ends."""
    before = Monitor(topology())
    before.report(1, 1.0, 40.0, "ok")
    before.evaluate(told(0.3), 11.0, RULES)
    assert kinds(before.evaluate(told(0.3), 71.0, RULES)) == {("dimming_failure", 1, True)}
    after = Monitor(topology())
    after.restore(1, before.snapshot(1))
    never_sent = told(0.3, at_s=-np.inf)
    assert after.evaluate(never_sent, 500.0, RULES) == []
    assert after.evaluate(told(0.3, at_s=500.0), 505.0, RULES) == []  # fading
    assert after.evaluate(told(0.3, at_s=500.0), 600.0, RULES) == []  # settled: still stuck
    assert after.since("dimming_failure")[1] == 11.0
    after.report(1, 0.3, 12.0, "ok")
    (ended,) = after.evaluate(told(0.3, at_s=500.0), 601.0, RULES)
    assert (ended.kind, ended.segment, ended.active) == ("dimming_failure", 1, False)
    fresh = Monitor(topology())  # without the restore: the same lamp raises it anew, later
    fresh.report(1, 1.0, 40.0, "ok")
    assert fresh.evaluate(told(0.3, at_s=500.0), 600.0, RULES) == []
