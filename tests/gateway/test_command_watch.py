"""The daemon is the only voice on its command topics, at the pipeline: echoes, forgeries,
corrections, and the retained commands met at start-up."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.settings import Policy, SiteConfig
from gateway.ingest.intake import Intake
from gateway.lighting.control import Lighting, Outgoing
from gateway.lighting.voice import CommandWatch
from gateway.pipeline import Outcome, Pipeline

NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
ROOT = "luciole/voice"
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "voice", "latitude": 47.47, "longitude": -0.55, "timezone": "Europe/Paris"},
        "segments": [
            {"id": f"s{n}", "street": "main", "order": n, "length_m": 30, "rated_power_w": 40}
            for n in (1, 2)
        ],
    }
)
FORGED = b'{"level": 0}'


class Daemon:
    """What the daemon does around the pipeline: publish, and hear its commands come back."""

    def __init__(self) -> None:
        lighting = Lighting(SITE, Policy.model_validate({"schedule": {"night_level": 0.3}}), NIGHT)
        self.watch = CommandWatch(lighting)
        self.pipeline = Pipeline(Intake(SITE), lighting, watch=self.watch)
        self.watch.connected()

    def publish(self, commands: list[Outgoing]) -> dict[str, bytes]:
        """Publish `commands` as the daemon does; the payloads by segment."""
        sent = {}
        for out in commands:
            sent[out.segment] = out.command.model_dump_json().encode()
            self.watch.published(out.segment, sent[out.segment])
        return sent

    def tick(self, now_s: float = NIGHT) -> dict[str, bytes]:
        return self.publish(self.pipeline.lighting.commands(now_s))

    def hear(self, segment: str, payload: bytes, now_s: float = NIGHT) -> Outcome:
        return self.pipeline.dispatch(f"{ROOT}/lamp/{segment}/set", payload, now_s)


def test_the_daemons_own_commands_coming_back_are_nothing() -> None:
    """Each command the daemon published, heard back, raises nothing and corrects nothing."""
    daemon = Daemon()
    for segment, payload in daemon.tick().items():
        outcome = daemon.hear(segment, payload)
        assert (outcome.verdict, outcome.commands, outcome.alerts) == ("ignored", [], [])


def test_a_foreign_command_is_alerted_stored_and_corrected() -> None:
    """After its own command came back, a forged one on s1 gives a retained foreign_command
    alert on alert/foreign_command/s1, an alert row, and s1's level sent again at once."""
    daemon = Daemon()
    sent = daemon.tick()
    daemon.hear("s1", sent["s1"])
    outcome = daemon.hear("s1", FORGED, NIGHT + 1)
    assert outcome.verdict == "foreign"
    assert [(o.segment, o.command.level) for o in outcome.commands] == [("s1", 0.3)]
    (alert,) = outcome.alerts
    assert (alert.topic, alert.retain) == (f"{ROOT}/alert/foreign_command/s1", True)
    body = json.loads(alert.payload)
    assert (body["type"], body["segment"], body["active"]) == ("foreign_command", "s1", True)
    assert (body["commanded"], body["actual"], body["payload"]) == (0.3, 0.0, '{"level": 0}')
    (row,) = outcome.rows
    assert (row.kind, json.loads(row.body)["type"]) == ("alert", "foreign_command")


def test_the_alert_ends_when_the_correction_comes_back() -> None:
    """Three forgeries in a row: one alert; the first is corrected at once, the others on
    the next tick (two daemons on one lamp must not correct each other at wire speed); when
    the correction comes back the alert ends, counting them."""
    daemon = Daemon()
    daemon.hear("s1", daemon.tick()["s1"])
    outcomes = [daemon.hear("s1", FORGED, NIGHT + 1) for _ in range(3)]
    assert [len(o.alerts) for o in outcomes] == [1, 0, 0]
    assert [len(o.commands) for o in outcomes] == [1, 0, 0]
    daemon.publish(outcomes[0].commands)
    corrections = daemon.tick(NIGHT + 2)
    assert list(corrections) == ["s1"]
    ended = daemon.hear("s1", corrections["s1"], NIGHT + 2)
    (alert,) = ended.alerts
    assert (json.loads(alert.payload)["active"], json.loads(alert.payload)["count"]) == (False, 3)


def test_what_arrives_before_the_first_own_echo_is_old_news() -> None:
    """At start-up the retained commands of the previous run arrive first: nothing is raised
    for them, nor after a reconnect, until the daemon's own command has come back."""
    daemon = Daemon()
    previous_run = b'{"level": 0.5, "ramp_s": 1.0, "reason": "schedule", "seq": 9, "ts": 1.0}'
    assert daemon.hear("s1", previous_run).verdict == "ignored"
    sent = daemon.tick()
    assert daemon.hear("s1", previous_run).verdict == "ignored"  # still before the echo
    daemon.hear("s1", sent["s1"])
    assert daemon.hear("s1", previous_run).verdict == "foreign"
    daemon.watch.connected()
    assert daemon.hear("s2", FORGED).verdict == "ignored"


def test_echoes_may_lag_behind_newer_commands() -> None:
    """Two commands to s1 in a row: the echo of the first, heard after the second went out,
    is the daemon's own; so is a redelivery of the last one heard."""
    daemon = Daemon()
    first = daemon.tick()["s1"]
    daemon.pipeline.lighting.resend("s1")
    second = daemon.tick(NIGHT + 1)["s1"]
    assert first != second
    assert daemon.hear("s1", first).verdict == "ignored"
    assert daemon.hear("s1", second).verdict == "ignored"
    assert daemon.hear("s1", second).verdict == "ignored"  # redelivered (QoS 1) or retained


def test_a_command_for_a_segment_the_site_lacks_is_left_alone() -> None:
    """Another district's lamp, or nobody's: neither alerted nor corrected."""
    daemon = Daemon()
    daemon.tick()
    outcome = daemon.hear("elsewhere-1", FORGED)
    assert (outcome.verdict, outcome.commands, outcome.alerts) == ("ignored", [], [])


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_any_foreign_payload_is_alerted_never_an_exception(payload: bytes) -> None:
    """Whatever bytes a forger sends, the alert and its row can be published and stored."""
    daemon = Daemon()
    daemon.hear("s1", daemon.tick()["s1"])
    outcome = daemon.hear("s1", payload, NIGHT + 1)
    assert outcome.verdict == "foreign"
    assert [json.loads(alert.payload)["type"] for alert in outcome.alerts] == ["foreign_command"]
    assert [row.kind for row in outcome.rows] == ["alert"]
