"""Who may override, at the pipeline: signatures, replays, the maximum duration, the record."""

import json
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controllers.settings import Policy, SiteConfig
from gateway.ingest.intake import Intake
from gateway.lighting.authority import Authority
from gateway.lighting.control import Lighting
from gateway.lighting.overrides import log_override, restore
from gateway.pipeline import Outcome, Pipeline
from gateway.store.spool import Spool
from gateway.wire.signing import sign

NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
KEY = b"alice-0123456789-signing-key"
ROOT = "luciole/auth"
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "auth", "latitude": 47.47, "longitude": -0.55, "timezone": "Europe/Paris"},
        "segments": [
            {"id": f"s{n}", "street": "main", "order": n, "length_m": 30, "rated_power_w": 40}
            for n in (1, 2, 3)
        ],
    }
)
POLICY = Policy.model_validate(
    {
        "schedule": {"night_level": 0.3},
        "limits": {"floor": 0.2},
        "overrides": {"max_duration_s": "1h"},
    }
)


def pipeline(authority: Authority | None = None) -> Pipeline:
    """The site's pipeline at night, its lamps told their levels; by default alice is its
    only sender, with a clock skew of 300 s."""
    lighting = Lighting(SITE, POLICY, NIGHT)
    lighting.commands(NIGHT)
    authority = authority or Authority({"alice": KEY}, 300)
    return Pipeline(Intake(SITE), lighting, authority=authority)


def signed(target: str, n: int = 1, ts: float = NIGHT, key: bytes = KEY, **fields: object) -> bytes:
    """Alice's override number `n` for `target`, signed with `key`."""
    body = {**fields, "sender": "alice", "id": f"m-{n}", "ts": ts}
    return json.dumps(sign(key, f"{ROOT}/override/{target}", body)).encode()


def send(pipe: Pipeline, target: str, payload: bytes, now_s: float = NIGHT) -> Outcome:
    return pipe.dispatch(f"{ROOT}/override/{target}", payload, now_s)


def levels(outcome: Outcome) -> dict[str, float]:
    return {out.segment: out.command.level for out in outcome.commands}


def test_a_signed_override_is_applied_and_recorded() -> None:
    """Alice's signed override lights the street; its record and stored row name her."""
    outcome = send(pipeline(), "main", signed("main", level=0.8, duration_s=600))
    assert (outcome.verdict, levels(outcome)) == ("applied", {"s1": 0.8, "s2": 0.8, "s3": 0.8})
    assert outcome.override is not None
    assert (outcome.override.sender, outcome.override.message_id) == ("alice", "m-1")
    (row,) = outcome.rows
    body = json.loads(row.body)
    assert (row.kind, body["target"], body["verdict"], body["sender"]) == (
        "override",
        "main",
        "applied",
        "alice",
    )
    assert (body["level"], body["duration_s"], body["signed_ts"]) == (0.8, 600, NIGHT)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b'{"level": 0}', "unsigned"),
        (
            json.dumps({"level": 0, "sender": "mallory", "id": "x", "ts": NIGHT, "sig": "0" * 64}),
            "unknown sender 'mallory'",
        ),
        (signed("all", level=0, key=b"not-alice-0123456789"), "bad signature for sender 'alice'"),
        (signed("main", level=0), "bad signature"),  # signed for another target
        (signed("all", level=1).replace(b'"level": 1', b'"level": 0'), "bad signature"),
        (json.dumps({"level": 0, "sender": "alice", "id": "x", "ts": NIGHT}), "sig must be 64 hex"),
        (json.dumps({"level": 0, "sender": "alice", "ts": NIGHT, "sig": "é" * 64}), "needs an id"),
        (
            b'{"level": 1e400, "sender": "alice", "id": "x", "ts": 1e400, "sig": "%s"}'
            % (b"0" * 64),
            "needs ts",
        ),
        (json.dumps({"sender": "alice", "id": "x", "sig": "0" * 64, "ts": 10**400}), "needs ts"),
    ],
)
def test_what_alice_did_not_sign_is_refused(payload: bytes | str, detail: str) -> None:
    """Unsigned, an unknown sender, a wrong key, another topic, a changed field, a missing
    or impossible part: refused as unauthenticated with the reason, and no lamp is told
    anything."""
    raw = payload.encode() if isinstance(payload, str) else payload
    outcome = send(pipeline(), "all", raw)
    assert outcome.rejection is not None
    assert outcome.rejection.reason == "unauthenticated_override"
    assert detail in outcome.rejection.detail
    assert outcome.commands == []
    assert outcome.override is not None and outcome.override.verdict == "refused"
    assert json.loads(outcome.rows[0].body)["verdict"] == "refused"


def test_the_same_message_twice_is_a_replay() -> None:
    """A message id alice already used is refused, even with nothing else in between."""
    pipe = pipeline()
    message = signed("main", level=0.8, duration_s=600)
    assert send(pipe, "main", message).verdict == "applied"
    again = send(pipe, "main", message, NIGHT + 1)
    assert again.rejection is not None
    assert (again.rejection.reason, "already taken" in again.rejection.detail) == (
        "replayed_override",
        True,
    )


def test_an_override_older_than_the_last_accepted_is_a_replay() -> None:
    """Once alice's override of 23:00:10 is taken, one she signed at 23:00:05 is refused."""
    pipe = pipeline()
    assert (
        send(pipe, "main", signed("main", 2, NIGHT + 10, level=0.8), NIGHT + 10).verdict
        == "applied"
    )
    older = send(pipe, "main", signed("main", 1, NIGHT + 5, clear=True), NIGHT + 11)
    assert older.rejection is not None
    assert older.rejection.reason == "replayed_override"
    assert "older than alice's last accepted" in older.rejection.detail


@pytest.mark.parametrize("off_s", [-301.0, 301.0])
def test_a_ts_outside_the_clock_skew_is_refused(off_s: float) -> None:
    """A ts more than max_clock_skew_s (300 s) before or after the daemon's clock is refused."""
    outcome = send(pipeline(), "main", signed("main", ts=NIGHT + off_s, level=0.8))
    assert outcome.rejection is not None
    assert outcome.rejection.reason == "replayed_override"
    assert "max_clock_skew_s" in outcome.rejection.detail


def test_a_refused_forgery_leaves_no_trace_in_the_replay_rules() -> None:
    """A forged message with alice's name, a future ts and her next id changes nothing:
    her own message with that id and an earlier ts is still taken."""
    pipe = pipeline()
    forged = signed("main", 7, NIGHT + 200, key=b"guessed-0123456789abc", level=0)
    assert send(pipe, "main", forged).rejection is not None
    assert send(pipe, "main", signed("main", 7, NIGHT, level=0.8)).verdict == "applied"


def test_without_senders_unsigned_overrides_are_taken_and_a_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A site naming no senders takes an unsigned override (the broker's ACL decides), and
    the daemon warns at start that overrides are not authenticated."""
    pipe = pipeline(Authority({}, 300))
    assert send(pipe, "main", b'{"level": 0.8, "duration_s": 60}').verdict == "applied"
    with caplog.at_level(logging.INFO):
        Authority({}, 300).announce(f"{ROOT}/override/+")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "overrides are not authenticated" in record.getMessage()


def test_an_override_without_duration_gets_the_policy_maximum() -> None:
    """No duration: the policy's max_duration_s (1 h here), said in the record; the street
    goes back to its schedule when it is over."""
    pipe = pipeline()
    outcome = send(pipe, "main", signed("main", level=0.8))
    assert outcome.override is not None
    assert (outcome.override.duration_s, outcome.override.capped) == (3600, True)
    still = pipe.lighting.commands(NIGHT + 3599)  # the periodic refresh
    assert {(out.command.level, out.command.reason) for out in still} == {(0.8, "override")}
    back = pipe.lighting.commands(NIGHT + 3600)
    assert {(out.command.level, out.command.reason) for out in back} == {(0.3, "schedule")}


def test_a_longer_override_is_cut_to_the_maximum_and_a_shorter_one_kept() -> None:
    """Eight hours asked: one hour given, the asked duration kept in the record; ten
    minutes asked: ten minutes given."""
    pipe = pipeline()
    long = send(pipe, "s1", signed("s1", 1, level=0.8, duration_s=8 * 3600)).override
    short = send(pipe, "s2", signed("s2", 2, level=0.8, duration_s=600)).override
    assert long is not None and short is not None
    assert (long.duration_s, long.asked_s, long.capped) == (3600, 8 * 3600, True)
    assert (short.duration_s, short.capped) == (600, False)


def test_an_override_below_the_floor_at_night_is_a_warning_naming_the_sender(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Alice switching the street off at night is applied (maintenance may) and logged as a
    WARNING with her name and the segments left below their floor."""
    outcome = send(pipeline(), "main", signed("main", level=0.0, duration_s=600))
    assert outcome.override is not None
    assert outcome.override.below_floor == ("s1", "s2", "s3")
    with caplog.at_level(logging.INFO):
        log_override(outcome.override)
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warning] == ["override below the class floor at night"]
    assert warning[0].__dict__["luciole_fields"]["sender"] == "alice"


def test_every_override_is_logged_with_target_level_duration_and_sender(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Taken or refused, the log line carries target, level, duration and sender."""
    pipe = pipeline()
    taken = send(pipe, "main", signed("main", level=0.5, duration_s=60)).override
    refused = send(pipe, "all", b'{"level": 0, "sender": "mallory"}').override
    assert taken is not None and refused is not None
    with caplog.at_level(logging.INFO):
        log_override(taken)
        log_override(refused)
    facts = [r.__dict__["luciole_fields"] for r in caplog.records]
    assert [(f["target"], f["level"], f["duration_s"], f["sender"]) for f in facts] == [
        ("main", 0.5, 60, "alice"),
        ("all", 0, None, "mallory"),
    ]
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.WARNING]


def test_a_restart_remembers_what_was_taken(tmp_path: Path) -> None:
    """The override rows in the spool give a new daemon's authority the ids already taken,
    so a message replayed right after a restart is still refused."""
    pipe = pipeline()
    message = signed("main", level=0.8, duration_s=600)
    outcome = send(pipe, "main", message)
    spool = Spool(tmp_path / "spool.db")
    spool.append_rows(outcome.rows)
    authority = Authority({"alice": KEY}, 300)
    assert restore(authority, spool, NIGHT + 5) == 1
    again = send(pipeline(authority), "main", message, NIGHT + 5)
    assert again.rejection is not None
    assert again.rejection.reason == "replayed_override"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False)
    | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = st.sampled_from(["level", "duration_s", "clear", "sender", "id", "ts", "sig", "other"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(FIELDS, JSON_VALUES, max_size=7),
    raw=st.binary(max_size=40),
    enforced=st.booleans(),
)
def test_any_override_payload_gives_an_outcome_never_an_exception(
    body: dict[str, object], raw: bytes, enforced: bool
) -> None:
    """Any object of override fields, or any bytes, is applied or refused with a reason, and
    its record is a storable row: never an exception."""
    pipe = pipeline(Authority({"alice": KEY} if enforced else {}, 300))
    for payload in (json.dumps(body).encode(), raw):
        outcome = send(pipe, "all", payload)
        assert outcome.verdict == "applied" or outcome.rejection is not None
        assert [row.kind for row in outcome.rows] == ["override"]
