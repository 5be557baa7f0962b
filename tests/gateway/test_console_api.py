"""The console's HTTP side over a fake host: who may read, who may act, what an action sends."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import aiohttp
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from gateway.console.auth import ConsoleAuth, is_loopback, read_token
from gateway.console.host import ActionResult
from gateway.console.server import console_app, serve_console

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 5.0  # a guard against a hang, never a measure of speed

STATE: dict[str, object] = {
    "site": {"id": "angers-centre", "name": "Angers", "timezone": "Europe/Paris"},
    "ts": 1796280000.0,
    "broker": {"url": "mqtt://127.0.0.1:1883", "connected": True},
    "spool": {"rows": 120, "unwritten": 3, "oldest_unwritten_age_s": 2.5, "size_bytes": 40960},
    "segments": [
        {
            "id": "rue-a-01",
            "street": "rue-a",
            "order": 1,
            "level": 0.3,
            "reason": "schedule",
            "traffic_class": "P5",
            "start": [47.47, -0.55],
            "end": [47.4702, -0.5497],
            "lamp": {"level": 0.3, "power_w": 24.0, "status": "ok"},
            "walkers_per_h": 12.0,
        }
    ],
    "overrides": [{"segment": "rue-a-01", "level": 0.8, "until": 1796283600.0}],
    "alerts": [
        {
            "id": "water_leak:meter-1",
            "type": "water_leak",
            "subject": "meter-1",
            "since": 1796200000.0,
            "ts": 1796270000.0,
            "acked": False,
            "acked_by": None,
            "details": {"rate_m3h": 0.02},
        }
    ],
    "devices": [{"id": "ped-1", "kind": "pedestrian", "segment": "rue-a-01", "last_heard": 1.0}],
    "energy": {
        "since": 1796250000.0,
        "site": {"kwh": 12.1, "always_on_kwh": 20.0, "static_kwh": 15.0},
        "streets": {"rue-a": {"kwh": 6.0, "always_on_kwh": 10.0, "static_kwh": 7.5}},
    },
}


class FakeHost:
    """A `ConsoleHost` that records every call and answers `result`."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.result = ActionResult(ok=True)

    def state(self) -> dict[str, object]:
        return STATE

    async def set_override(
        self, target: str, level: float, duration_s: float | None, who: str
    ) -> ActionResult:
        self.calls.append(("set", target, level, duration_s, who))
        return self.result

    async def clear_override(self, target: str, who: str) -> ActionResult:
        self.calls.append(("clear", target, who))
        return self.result

    async def ack_alert(self, alert_id: str, who: str) -> ActionResult:
        self.calls.append(("ack", alert_id, who))
        return self.result


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


async def _client(app: web.Application) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(host: FakeHost) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await _client(console_app(host, ConsoleAuth(TOKEN, owner="alice")))
    yield client
    await client.close()


Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def remote(host: FakeHost) -> AsyncIterator[Client]:
    """The console as a browser on another machine sees it: no request is local."""
    auth = ConsoleAuth(TOKEN, owner="alice", local=lambda request: False)
    client = await _client(console_app(host, auth))
    yield client
    await client.close()


async def _first_event(response: ClientResponse) -> dict[str, object]:
    async with asyncio.timeout(WAIT_S):
        chunk = await response.content.readuntil(b"\n\n")
    response.close()
    event, data = chunk.decode().rstrip("\n").split("\n")
    assert event == "event: state"
    state: dict[str, object] = json.loads(data.removeprefix("data: "))
    return state


async def test_state_is_read_on_loopback_without_a_token(client: Client) -> None:
    response = await client.get("/api/state")
    assert response.status == 200
    assert await response.json() == STATE


async def test_an_action_without_a_token_is_refused_and_changes_nothing(
    client: Client, host: FakeHost
) -> None:
    response = await client.post("/api/overrides", json={"target": "rue-a-01", "level": 0.8})
    assert response.status == 401
    body = await response.json()
    assert body["error"] == "unauthorized"
    assert "Authorization: Bearer" in body["detail"]
    assert host.calls == []


@pytest.mark.parametrize("header", ["Bearer wrong", "Basic czNjcmV0LXRva2Vu", TOKEN, "Bearer "])
async def test_a_wrong_token_is_refused(client: Client, host: FakeHost, header: str) -> None:
    headers = {"Authorization": header}
    for response in (
        await client.post("/api/overrides", json={"target": "a", "level": 1}, headers=headers),
        await client.delete("/api/overrides/a", headers=headers),
        await client.post("/api/alerts/water_leak:meter-1/ack", headers=headers),
    ):
        assert (response.status, (await response.json())["error"]) == (401, "unauthorized")
    assert host.calls == []


async def test_the_right_token_sets_an_override_as_its_owner(
    client: Client, host: FakeHost
) -> None:
    body = {"target": "rue-a-01", "level": 0.8, "duration_s": 600}
    response = await client.post("/api/overrides", json=body, headers=BEARER)
    assert (response.status, await response.json()) == (200, {"ok": True})
    assert host.calls == [("set", "rue-a-01", 0.8, 600.0, "alice")]


async def test_levels_and_durations_in_the_operators_forms(client: Client, host: FakeHost) -> None:
    for body in (
        {"target": "rue-a", "level": "80%", "duration_s": "30m"},
        {"target": "all", "level": "0.5"},
        {"target": "all", "level": 1, "duration_s": None},
    ):
        response = await client.post("/api/overrides", json=body, headers=BEARER)
        assert response.status == 200, await response.text()
    assert host.calls == [
        ("set", "rue-a", 0.8, 1800.0, "alice"),
        ("set", "all", 0.5, None, "alice"),
        ("set", "all", 1.0, None, "alice"),
    ]


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        (b"not json", "not_json"),
        (b"[1, 2]", "not_json"),
        (b'{"level": 0.5}', "missing_key"),
        (b'{"target": "all"}', "missing_key"),
        (b'{"target": "", "level": 0.5}', "invalid_target"),
        (b'{"target": "all", "level": "bright"}', "invalid_level"),
        (b'{"target": "all", "level": 1.5}', "invalid_level"),
        (b'{"target": "all", "level": true}', "invalid_level"),
        (b'{"target": "all", "level": 0.5, "duration_s": "soon"}', "invalid_duration"),
        (b'{"target": "all", "level": 0.5, "duration_s": -60}', "invalid_duration"),
    ],
)
async def test_a_bad_body_is_a_400_in_json(
    client: Client, host: FakeHost, raw: bytes, word: str
) -> None:
    response = await client.post("/api/overrides", data=raw, headers=BEARER)
    assert response.status == 400
    body = await response.json()
    assert body["error"] == word
    assert body["detail"]
    assert host.calls == []


async def test_a_refusal_keeps_its_status_and_words(client: Client, host: FakeHost) -> None:
    host.result = ActionResult(False, "unknown_target", "no segment, street or group nope", 404)
    body = {"target": "nope", "level": 1}
    response = await client.post("/api/overrides", json=body, headers=BEARER)
    assert response.status == 404
    assert await response.json() == {
        "error": "unknown_target",
        "detail": "no segment, street or group nope",
    }


async def test_clear_and_ack_reach_the_host(client: Client, host: FakeHost) -> None:
    response = await client.delete("/api/overrides/rue-a", headers=BEARER)
    assert (response.status, await response.json()) == (200, {"ok": True})
    response = await client.post("/api/alerts/water_leak:meter-1/ack", headers=BEARER)
    assert (response.status, await response.json()) == (200, {"ok": True})
    assert host.calls == [("clear", "rue-a", "alice"), ("ack", "water_leak:meter-1", "alice")]


async def test_without_a_configured_token_actions_are_403(host: FakeHost) -> None:
    client = await _client(console_app(host, ConsoleAuth(None)))
    try:
        assert (await client.get("/api/state")).status == 200
        response = await client.post("/api/overrides", json={"target": "a", "level": 1})
        assert response.status == 403
        assert (await response.json())["error"] == "no_console_token"
        response = await client.delete("/api/overrides/a", headers=BEARER)
        assert response.status == 403
    finally:
        await client.close()
    assert host.calls == []


async def test_unknown_paths_and_methods_answer_json(client: Client) -> None:
    response = await client.get("/api/nothing")
    assert (response.status, (await response.json())["error"]) == (404, "not_found")
    response = await client.put("/api/state", headers=BEARER)
    assert (response.status, (await response.json())["error"]) == (405, "method_not_allowed")
    response = await client.get("/assets/secrets.txt")
    assert (response.status, (await response.json())["error"]) == (404, "not_found")


async def test_events_start_with_the_state(client: Client) -> None:
    async with asyncio.timeout(WAIT_S):
        response = await client.get("/api/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        chunk = await response.content.readuntil(b"\n\n")
        response.close()
    event, data = chunk.decode().rstrip("\n").split("\n")
    assert event == "event: state"
    assert json.loads(data.removeprefix("data: ")) == STATE


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "text/html"),
        ("/assets/index.html", "text/html"),
        ("/assets/console.js", "text/javascript"),
        ("/assets/console.css", "text/css"),
    ],
)
async def test_assets_are_served_and_fetch_nothing_from_outside(
    client: Client, path: str, kind: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == kind
    text = await response.text()
    assert "http://" not in text
    assert "https://" not in text


def _request_from(remote: str, headers: dict[str, str], method: str = "GET") -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.return_value = (remote, 50000)
    return make_mocked_request(method, "/api/state", headers=headers, transport=transport)


def test_a_read_from_another_address_needs_the_token() -> None:
    auth = ConsoleAuth(TOKEN)
    refused = auth.refusal(_request_from("192.0.2.7", {}))
    assert refused is not None
    assert refused.status == 401
    assert auth.refusal(_request_from("192.0.2.7", BEARER)) is None
    assert auth.refusal(_request_from("::1", {})) is None
    no_token = ConsoleAuth(None).refusal(_request_from("192.0.2.7", BEARER))
    assert no_token is not None
    assert no_token.status == 403


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        (None, False),
        ("", False),
        ("not-an-address", False),
    ],
)
def test_loopback(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback


def test_a_token_file_open_to_the_group_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "console.token"
    token_file.write_text(f"  {TOKEN}\n")
    token_file.chmod(0o640)
    with pytest.raises(ValueError, match="chmod 600"):
        read_token(None, token_file)
    token_file.chmod(0o600)
    assert read_token(None, token_file) == TOKEN
    token_file.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        read_token(None, token_file)
    with pytest.raises(ValueError, match="not found"):
        read_token(None, tmp_path / "missing")


def test_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUCIOLE_TEST_TOKEN", f" {TOKEN} ")
    assert read_token("LUCIOLE_TEST_TOKEN", None) == TOKEN
    monkeypatch.delenv("LUCIOLE_TEST_TOKEN")
    assert read_token("LUCIOLE_TEST_TOKEN", None) is None
    assert read_token(None, None) is None


@pytest.mark.parametrize("path", ["/", "/assets/index.html", "/assets/console.js"])
async def test_a_remote_browser_gets_the_page_shell_without_a_token(
    remote: Client, path: str
) -> None:
    response = await remote.get(path)
    assert response.status == 200
    assert "rue-a-01" not in await response.text()  # the shell holds no data


async def test_a_remote_state_read_needs_the_token_in_the_header(remote: Client) -> None:
    response = await remote.get("/api/state")
    assert (response.status, (await response.json())["error"]) == (401, "unauthorized")
    response = await remote.get("/api/state", params={"token": TOKEN})
    assert response.status == 401  # the query string is for the stream only
    response = await remote.get("/api/state", headers=BEARER)
    assert (response.status, await response.json()) == (200, STATE)


async def test_a_remote_stream_takes_the_token_in_its_query_string(remote: Client) -> None:
    response = await remote.get("/api/events")
    assert (response.status, (await response.json())["error"]) == (401, "unauthorized")
    for wrong in ("wrong", "", f"{TOKEN}x", TOKEN[:-1]):
        response = await remote.get("/api/events", params={"token": wrong})
        assert response.status == 401, wrong
    response = await remote.get("/api/events", params={"token": TOKEN})
    assert response.status == 200
    assert await _first_event(response) == STATE
    response = await remote.get("/api/events", headers=BEARER)  # a script's way still works
    assert response.status == 200
    assert await _first_event(response) == STATE


async def test_remote_actions_still_need_the_header(remote: Client, host: FakeHost) -> None:
    body = {"target": "rue-a-01", "level": 0.8}
    query = {"token": TOKEN}
    for response in (
        await remote.post("/api/overrides", json=body),
        await remote.post("/api/overrides", json=body, params=query),
        await remote.post("/api/events", params=query),
        await remote.delete("/api/overrides/rue-a-01", params=query),
        await remote.post("/api/alerts/water_leak:meter-1/ack", params=query),
    ):
        assert (response.status, (await response.json())["error"]) == (401, "unauthorized")
    assert host.calls == []
    response = await remote.post("/api/overrides", json=body, headers=BEARER)
    assert (response.status, await response.json()) == (200, {"ok": True})
    assert host.calls == [("set", "rue-a-01", 0.8, None, "alice")]


async def test_a_remote_read_without_a_configured_token_says_what_to_set(
    host: FakeHost,
) -> None:
    client = await _client(console_app(host, ConsoleAuth(None, local=lambda request: False)))
    try:
        assert (await client.get("/")).status == 200
        response = await client.get("/api/events", params={"token": TOKEN})
        assert (response.status, (await response.json())["error"]) == (403, "no_console_token")
    finally:
        await client.close()


async def test_the_served_console_logs_no_url_so_never_the_query_token(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runner = await serve_console(host, ConsoleAuth(TOKEN), "127.0.0.1", 0)
    try:
        _, port = runner.addresses[0]
        url = f"http://127.0.0.1:{port}/api/events?token={TOKEN}"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
            async with asyncio.timeout(WAIT_S):
                await response.content.readuntil(b"\n\n")
    finally:
        await runner.cleanup()
    assert "console serving" in caplog.text
    assert TOKEN not in caplog.text
