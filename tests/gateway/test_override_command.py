"""`luciole override` refuses what it cannot send, before touching the broker."""

import json
from pathlib import Path

import pytest

from gateway.wire.payloads import OverrideMessage
from gateway.wire.signing import verify
from luciole.main import main
from luciole.override import payload_of

CONFIG = Path(__file__).resolve().parents[2] / "config" / "site.yaml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rue-des-lices-13", "80%"], "did you mean 'rue-des-lices-12'"),
        (["quai-du-prot", "80%"], "did you mean 'quai-du-port'"),
        (["all", "180%"], "between 0 and 100%"),
        (["all", "bright"], "expected a level such as 0.4 or 40%"),
        (["all", "80%", "--for", "soon"], "expected a duration"),
        (["all", "80%", "--for", "0s"], "positive duration"),
        (["all"], "give a LEVEL"),
        (["all", "80%", "--clear"], "--clear takes no LEVEL"),
    ],
)
def test_bad_override_is_refused_with_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each mistake gets its own explanation on stderr and exit status 2."""
    assert main(["override", *args, "--config", str(CONFIG)]) == 2
    assert message in capsys.readouterr().err


def test_unreachable_broker_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid override to a broker nobody listens on fails with exit 1 and says which broker."""
    from gateway.mqtt.broker import free_port

    site = CONFIG.read_text().replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{free_port()}")
    (tmp_path / "site.yaml").write_text(site)
    (tmp_path / "policy.yaml").write_text((CONFIG.parent / "policy.yaml").read_text())
    code = main(["override", "all", "50%", "--config", str(tmp_path / "site.yaml")])
    assert code == 1
    assert "luciole override: broker mqtt://127.0.0.1:" in capsys.readouterr().err


SENDERS = "\noverrides: {senders: {alice: {key_env: LUCIOLE_TEST_KEY_ALICE}}}\n"


def signed_site(folder: Path) -> Path:
    """The shipped site, on a port nobody listens on, whose overrides alice must sign."""
    from gateway.mqtt.broker import free_port

    site = CONFIG.read_text().replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{free_port()}")
    (folder / "site.yaml").write_text(site + SENDERS)
    (folder / "policy.yaml").write_text((CONFIG.parent / "policy.yaml").read_text())
    return folder / "site.yaml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "this site takes only signed overrides: give --sender (alice)"),
        (["--sender", "alise"], "no override sender 'alise'; did you mean 'alice'"),
        (["--key-env", "LUCIOLE_TEST_KEY_ALICE"], "sign as a --sender NAME"),
        (["--sender", "alice", "--key-file", "/nonexistent/key"], "/nonexistent/key not found"),
    ],
)
def test_a_signing_site_refuses_what_cannot_be_signed(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a site that names senders: no --sender, an unknown one, a key without a sender, an
    unreadable key: each explained, exit 2, nothing sent."""
    site = signed_site(tmp_path)
    assert main(["override", "all", "50%", *args, "--config", str(site)]) == 2
    assert message in capsys.readouterr().err


def test_a_signed_override_reads_the_key_of_the_sites_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--sender alice` takes alice's key where the site says (here a variable) and goes on
    to the broker (unreachable here: exit 1)."""
    monkeypatch.setenv("LUCIOLE_TEST_KEY_ALICE", "alice-0123456789-signing-key")
    site = signed_site(tmp_path)
    assert main(["override", "all", "50%", "--sender", "alice", "--config", str(site)]) == 1
    assert "broker mqtt://127.0.0.1:" in capsys.readouterr().err


def test_the_payload_is_signed_for_its_topic_with_a_fresh_id_and_its_time() -> None:
    """Each payload has its own id and the time given; signed, it verifies for its topic."""
    key, topic = b"alice-0123456789-signing-key", "luciole/x/override/all"
    message = OverrideMessage(level=0.5)
    first = json.loads(payload_of(message, topic, "alice", key, 1795313326.5))
    second = json.loads(payload_of(message, topic, "alice", key, 1795313327.0))
    assert (first["level"], first["sender"], first["ts"]) == (0.5, "alice", 1795313326.5)
    assert first["id"] != second["id"]
    assert verify(key, topic, first)
    unsigned = json.loads(payload_of(message, topic, None, None, 1795313326.5))
    assert set(unsigned) == {"level", "id", "ts"}
