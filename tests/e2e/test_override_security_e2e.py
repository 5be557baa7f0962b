"""Who may override, on a real broker: what an ordinary login tried, and what it gets now."""

import json
import time
import uuid
from pathlib import Path

import aiomqtt
import pytest

from gateway.store.spool import Spool
from gateway.wire.signing import sign
from tests.conftest import BrokerInfo
from tests.e2e.support import Lamps, run_override, running_daemon, stderr_until, write_site

KEY = "0123456789abcdef-alice-signing-key"
SENDERS = "overrides: {senders: {alice: {key_file: keys/alice}}}\n"


def signed_site(folder: Path, broker: BrokerInfo, site_id: str) -> Path:
    """The night-time street of `write_site`, whose overrides must be signed by alice."""
    (folder / "keys").mkdir()
    (folder / "keys" / "alice").write_text(KEY + "\n")
    (folder / "keys" / "alice").chmod(0o600)  # a key file is its owner's alone
    return write_site(folder, broker, site_id, "30%", extra=SENDERS)


def signed(topic: str, **fields: object) -> bytes:
    """An override of alice's with a fresh id and the time now, signed for `topic`."""
    body = {**fields, "sender": "alice", "id": uuid.uuid4().hex, "ts": time.time()}
    return json.dumps(sign(KEY.encode(), topic, body)).encode()


def refused(lamps: Lamps, topic: str) -> list[dict[str, object]]:
    return [d for d in lamps.deadletters if d["topic"] == topic]


def levels(lamps: Lamps) -> set[object]:
    return {lamps.latest[f"s{i}"]["level"] for i in range(1, 6)}


async def test_unsigned_override_at_night_leaves_the_lamps_at_their_levels(
    tmp_path: Path, broker: BrokerInfo
) -> None:
    """An unsigned `override/all {"level": 0}` from any login is dead-lettered as
    unauthenticated, no lamp leaves 30 %, and the refusal is stored as an override row."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = signed_site(tmp_path, broker, site_id)
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        topic = f"{lamps.root}/override/all"
        await client.subscribe([(f"{lamps.root}/lamp/+/set", 1), (f"{lamps.root}/deadletter", 1)])
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            await client.publish(topic, b'{"level": 0}', qos=1)
            await lamps.until(lambda: bool(refused(lamps, topic)))
            # The daemon publishes a message's commands before its dead-letter: none came.
            assert levels(lamps) == {0.3}
    (letter,) = refused(lamps, topic)
    assert letter["reason"] == "unauthenticated_override"
    rows = Spool(tmp_path / "spool" / "luciole.db").between(0, float("inf"), 1000)
    overrides = [row for _, row in rows if row["kind"] == "override"]
    assert [(r["target"], r["verdict"], r["level"]) for r in overrides] == [("all", "refused", 0)]


async def test_a_replayed_signed_override_is_refused(tmp_path: Path, broker: BrokerInfo) -> None:
    """Alice's signed override is applied, then cleared; the same message captured and
    published again is refused as a replay, and the street stays at its schedule."""
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site = signed_site(tmp_path, broker, site_id)
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        topic = f"{lamps.root}/override/main"
        await client.subscribe([(f"{lamps.root}/lamp/+/set", 1), (f"{lamps.root}/deadletter", 1)])
        async with running_daemon(site):
            await lamps.until(lambda: len(lamps.latest) == 5)
            captured = signed(topic, level=0.8, duration_s=1800)
            await client.publish(topic, captured, qos=1)
            await lamps.until(lambda: levels(lamps) == {0.8})
            await client.publish(topic, signed(topic, clear=True), qos=1)
            await lamps.until(lambda: levels(lamps) == {0.3})
            await client.publish(topic, captured, qos=1)
            await lamps.until(lambda: bool(refused(lamps, topic)))
            assert levels(lamps) == {0.3}
    (letter,) = refused(lamps, topic)
    assert letter["reason"] == "replayed_override"
    assert "already taken" in str(letter["detail"])


async def test_a_signed_override_without_duration_expires_at_the_maximum(
    tmp_path: Path, broker: BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`luciole override main 80% --sender alice` (its key from the site's entry) lights the
    street for the policy's overrides.max_duration_s only, as its log line says, and then
    the street goes back to its schedule by itself."""
    monkeypatch.setenv("LUCIOLE_TEST_KEY_ALICE", KEY)
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    senders = "overrides: {senders: {alice: {key_env: LUCIOLE_TEST_KEY_ALICE}}}\n"
    site = write_site(tmp_path, broker, site_id, "30%", extra=senders)
    with (tmp_path / "policy.yaml").open("a") as policy:
        policy.write("overrides: {max_duration_s: 2s}\n")
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            await lamps.until(lambda: len(lamps.latest) == 5)
            code, out = await run_override(site, "main", "80%", "--sender", "alice")
            assert (code, out.strip()) == (
                0,
                f"override sent on {lamps.root}/override/main: level 80% for 2 s "
                "(the policy's maximum), signed by alice",
            )
            line = await stderr_until(daemon, "override applied for the policy's maximum")
            assert "sender=alice" in line
            assert "duration_s=2" in line
            await lamps.until(lambda: levels(lamps) == {0.8})
            lit_s = min(float(str(lamps.latest[f"s{i}"]["ts"])) for i in range(1, 6))
            await lamps.until(lambda: levels(lamps) == {0.3})
            assert {lamps.latest[f"s{i}"]["reason"] for i in range(1, 6)} == {"schedule"}
            back_s = min(float(str(lamps.latest[f"s{i}"]["ts"])) for i in range(1, 6))
            assert back_s - lit_s >= 2.0
