"""How the inbox chooses its path: the private hooks are checked at start-up, against the
versions pinned, and a missing one sends it to the public path, said once."""

import logging
import re
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest

from gateway.mqtt import hooks
from gateway.mqtt.inbox import Inbox, warn_public_path

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = {"aiomqtt": "2.5.1", "paho-mqtt": "2.2.0"}  # any versions within TESTED
Change = Callable[[aiomqtt.Client, pytest.MonkeyPatch], None]


@pytest.fixture
async def client() -> AsyncIterator[aiomqtt.Client]:
    """An aiomqtt client that never connects: the hooks are there from its construction."""
    yield aiomqtt.Client("127.0.0.1", 1)


@pytest.fixture
def once() -> Iterator[None]:
    """The public path's warning, as at the start of a process."""
    warn_public_path.cache_clear()
    yield
    warn_public_path.cache_clear()


async def test_the_installed_versions_take_the_fast_path(client: aiomqtt.Client) -> None:
    """What constraints.txt installs has every hook the fast path needs."""
    assert hooks.why_not_fast(client) is None
    assert Inbox(client).fast


@pytest.mark.parametrize(
    ("name", "version"),
    [("aiomqtt", "3.0.0"), ("aiomqtt", "2.6.0"), ("paho-mqtt", "2.3.1"), ("paho-mqtt", "x")],
)
async def test_an_untested_version_takes_the_public_path(
    client: aiomqtt.Client, name: str, version: str
) -> None:
    """A version outside the tested minors is not trusted with private attributes."""
    why = hooks.why_not_fast(client, {**INSTALLED, name: version})
    assert why is not None
    assert f"{name} {version} is not a tested version" in why


def _without(attribute: str) -> Change:
    """Remove an attribute of aiomqtt's client ("paho." for its paho client)."""

    def remove(client: aiomqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
        owner: object = hooks.paho_of(client) if attribute.startswith("paho.") else client
        monkeypatch.delattr(owner, attribute.removeprefix("paho."))

    return remove


def _replaced(attribute: str, value: object) -> Change:
    """Give an attribute of aiomqtt's client ("paho." for its paho client) another value."""

    def replace(client: aiomqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
        owner: object = hooks.paho_of(client) if attribute.startswith("paho.") else client
        monkeypatch.setattr(owner, attribute.removeprefix("paho."), value)

    return replace


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_without("_disconnected"), "_disconnected"),
        (_replaced("_disconnected", None), "_disconnected"),
        (_without("_socket_options"), "_socket_options"),
        (_replaced("_socket_options", [(6, 1, 1)]), "_socket_options"),
        (_without("paho._sock"), "_sock"),
        (_replaced("paho._packet_queue", lambda packet: None), "_packet_queue"),
        (_replaced("paho._packet_queue", None), "_packet_queue"),
        (_replaced("_client", object()), "_client"),
    ],
)
async def test_a_missing_or_changed_hook_takes_the_public_path(
    client: aiomqtt.Client,
    monkeypatch: pytest.MonkeyPatch,
    change: Change,
    named: str,
) -> None:
    """Each private attribute is checked for presence and type; the reason names it."""
    change(client, monkeypatch)
    why = hooks.why_not_fast(client, INSTALLED)
    assert why is not None
    assert f"({named})" in why


async def test_without_a_paho_client_the_inbox_says_what_to_install(
    client: aiomqtt.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No path acks after the commit without paho (aiomqtt 3): it stops, naming the pins."""
    monkeypatch.delattr(client, "_client")
    with pytest.raises(hooks.IncompatibleClientError, match=re.escape(hooks.tested_range())):
        Inbox(client)


@pytest.mark.usefixtures("once")
async def test_the_public_path_is_announced_once_with_its_reason(
    client: aiomqtt.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every connection makes an inbox; the WARNING that it runs slower comes once, with why."""
    monkeypatch.setattr(hooks, "why_not_fast", lambda *_: "aiomqtt 9.0 is not a tested version")
    with caplog.at_level(logging.WARNING, logger="luciole.gateway"):
        inboxes = [Inbox(client), Inbox(aiomqtt.Client("127.0.0.1", 1))]
    assert not any(inbox.fast for inbox in inboxes)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "slower public path" in warnings[0].getMessage()
    assert warnings[0].__dict__["luciole_fields"] == {
        "reason": "aiomqtt 9.0 is not a tested version"
    }


def test_the_tested_versions_are_the_pinned_ones() -> None:
    """pyproject.toml allows exactly the minors the hooks were read from, and constraints.txt
    installs versions within them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    for name, (low, high) in hooks.TESTED.items():
        wanted = f"{name}>={low[0]}.{low[1]},<{high[0]}.{high[1]}"
        assert wanted in project["dependencies"]
        pinned = [line.split("==")[1] for line in pins if line.startswith(f"{name}==")]
        assert len(pinned) == 1, f"constraints.txt pins {name} once"
        assert low <= tuple(int(p) for p in pinned[0].split(".")[:2]) < high
