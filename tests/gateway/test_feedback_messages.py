"""Lamp states in, alert messages and rows out, as the daemon publishes and stores them."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from controllers.settings import Policy, SiteConfig
from controllers.settings.policy import Alerts
from gateway.lighting.control import Lighting
from gateway.lighting.feedback import Feedback

NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "fb", "latitude": 47.4712, "longitude": -0.5518, "timezone": "Europe/Paris"},
        "segments": [
            {"id": f"s{n}", "street": "m", "order": n, "length_m": 30, "rated_power_w": 40}
            for n in (1, 2)
        ],
    }
)
RULES = Alerts(delay_s=0)


def test_bad_lamp_states_are_explained() -> None:
    """Unknown segments and invalid payloads give an error text, not an exception."""
    feedback = Feedback(Lighting(SITE, Policy(), NIGHT))
    assert (
        feedback.state("luciole/fb/lamp/s9/state", b"{}") == "lamp state for unknown segment 's9'"
    )
    problem = feedback.state("luciole/fb/lamp/s1/state", b'{"level": 2, "power_w": 1, "ts": 0}')
    assert problem is not None
    assert problem.startswith("level:")


def test_an_alert_is_published_retained_and_stored_then_cleared() -> None:
    """A lamp reporting failed: a retained message on alert/lamp_failure/s2 and an alert row;
    once it reports ok again, the same topic says inactive."""
    lighting = Lighting(SITE, Policy.model_validate({"schedule": {"night_level": 0.3}}), NIGHT)
    feedback = Feedback(lighting)
    lighting.commands(NIGHT)
    broken = {"level": 0.0, "power_w": 0.5, "status": "failed", "ts": NIGHT}
    assert feedback.state("luciole/fb/lamp/s2/state", json.dumps(broken).encode()) is None
    messages, rows = feedback.evaluate(NIGHT + 5, RULES)
    assert [(m.topic, m.retain) for m in messages] == [("luciole/fb/alert/lamp_failure/s2", True)]
    body = json.loads(messages[0].payload)
    assert (body["type"], body["segment"], body["active"], body["commanded"]) == (
        "lamp_failure",
        "s2",
        True,
        0.3,
    )
    row, state = rows  # the alert, and s2's report and alerts for a restart
    assert (row.kind, row.device_id) == ("alert", "controller")
    assert json.loads(row.body)["segment"] == "s2"
    assert (state.kind, state.uplink, state.device_id) == ("state", "lamp_alerts", "s2")
    assert json.loads(state.body)["active"] == ["lamp_failure"]
    fixed = {"level": 0.3, "power_w": 12.0, "status": "ok", "ts": NIGHT}
    feedback.state("luciole/fb/lamp/s2/state", json.dumps(fixed).encode())
    messages, _ = feedback.evaluate(NIGHT + 10, RULES)
    assert [json.loads(m.payload)["active"] for m in messages] == [False]
