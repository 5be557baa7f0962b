"""The console's HTTP side: the page, its state as JSON and as a live stream, the actions.

It runs on the daemon's own event loop (aiohttp), so a read is the daemon's state between
two messages and an action goes through the host, which does it between messages and ticks.
The page and its script and style are served from the package, never from the internet: a
gateway is often offline. Every error is JSON `{"error": word, "detail": ...}`, so that the
page and a script can show it as they show an action's refusal.
"""

import asyncio
import json
import logging
from importlib import resources

from aiohttp import web

from controllers.units import parse_duration_s, parse_ratio
from gateway.console.auth import ConsoleAuth, Handler
from gateway.console.host import ActionResult, ConsoleHost
from gateway.logs import event

log = logging.getLogger("luciole.gateway")

ASSET_TYPES = {
    "index.html": "text/html",
    "console.js": "text/javascript",
    "console.css": "text/css",
}
# How long the runner waits for requests in progress at stop (the live streams end at once).
SHUTDOWN_TIMEOUT_S = 5.0

CLOSING = web.AppKey("closing", asyncio.Event)


class BadRequestError(ValueError):
    """A request body the console cannot act on: its error word and detail (400)."""

    def __init__(self, word: str, detail: str) -> None:
        super().__init__(detail)
        self.word = word
        self.detail = detail


def error_response(word: str, detail: str | None, status: int) -> web.Response:
    return web.json_response({"error": word, "detail": detail}, status=status)


def load_assets() -> dict[str, bytes]:
    """The page's three files, read once from the package (gateway/console/assets/)."""
    folder = resources.files("gateway.console") / "assets"
    return {name: (folder / name).read_bytes() for name in ASSET_TYPES}


class Console:
    """The console's routes over one host."""

    def __init__(self, host: ConsoleHost, push_s: float, who: str) -> None:
        self.host = host
        self.who = who  # the token's owner: the auth middleware let only its holder act
        self.push_s = push_s
        self.assets = load_assets()

    async def page(self, request: web.Request) -> web.Response:
        return self._asset("index.html")

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSET_TYPES:
            return error_response("not_found", f"no asset {name!r}", 404)
        return self._asset(name)

    def _asset(self, name: str) -> web.Response:
        return web.Response(
            body=self.assets[name],
            content_type=ASSET_TYPES[name],
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.host.state())

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the state now and every `push_s`, until the client goes or the
        console stops (then at once, not after the runner's shutdown timeout)."""
        closing = request.app[CLOSING]
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            while not closing.is_set():
                body = json.dumps(self.host.state(), separators=(",", ":"))
                await response.write(f"event: state\ndata: {body}\n\n".encode())
                try:
                    async with asyncio.timeout(self.push_s):
                        await closing.wait()
                except TimeoutError:
                    pass
        except ConnectionResetError:
            pass  # the client went
        return response

    async def set_override(self, request: web.Request) -> web.Response:
        try:
            target, level, duration_s = parse_override(await request.read())
        except BadRequestError as error:
            return error_response(error.word, error.detail, 400)
        who = self.who
        result = await self.host.set_override(target, level, duration_s, who)
        log_action(
            "console override set",
            result,
            who=who,
            target=target,
            level=level,
            duration_s=duration_s,
        )
        return result_response(result)

    async def clear_override(self, request: web.Request) -> web.Response:
        target, who = request.match_info["target"], self.who
        result = await self.host.clear_override(target, who)
        log_action("console override cleared", result, who=who, target=target)
        return result_response(result)

    async def ack_alert(self, request: web.Request) -> web.Response:
        alert_id, who = request.match_info["alert_id"], self.who
        result = await self.host.ack_alert(alert_id, who)
        log_action("console alert acknowledged", result, who=who, alert=alert_id)
        return result_response(result)


def parse_override(raw: bytes) -> tuple[str, float, float | None]:
    """`{"target", "level", "duration_s"?}` -> (target, level 0..1, seconds or None)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequestError("not_json", f"the body must be a JSON object: {error}") from None
    if not isinstance(body, dict):
        raise BadRequestError("not_json", "the body must be a JSON object")
    missing = [key for key in ("target", "level") if key not in body]
    if missing:
        raise BadRequestError("missing_key", f"the body needs {', '.join(missing)}")
    target = body["target"]
    if not isinstance(target, str) or not target.strip():
        raise BadRequestError(
            "invalid_target", "target must be a segment, a street, a group or all"
        )
    try:
        level = parse_ratio(body["level"])
    except ValueError as error:
        raise BadRequestError("invalid_level", str(error)) from None
    if not 0.0 <= level <= 1.0:
        raise BadRequestError("invalid_level", f"level must be between 0 and 1 (got {level:g})")
    return target.strip(), level, parse_duration(body.get("duration_s"))


def parse_duration(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        duration_s = parse_duration_s(value)
    except ValueError as error:
        raise BadRequestError("invalid_duration", str(error)) from None
    if duration_s <= 0:
        raise BadRequestError(
            "invalid_duration", f"duration must be positive (got {duration_s:g} s)"
        )
    return duration_s


def result_response(result: ActionResult) -> web.Response:
    if result.ok:
        return web.json_response({"ok": True}, status=result.status)
    return error_response(result.reason or "refused", result.detail, result.status)


def log_action(message: str, result: ActionResult, **fields: object) -> None:
    outcome = {"result": "ok"} if result.ok else {"result": result.reason, "detail": result.detail}
    event(log, logging.INFO, message, **fields, **outcome)


def console_app(host: ConsoleHost, auth: ConsoleAuth, push_s: float = 1.0) -> web.Application:
    """The console as an aiohttp application (the daemon serves it; tests drive it)."""
    console = Console(host, push_s, auth.owner)
    app = web.Application(middlewares=[http_errors_as_json, auth.middleware])
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/", console.page)
    app.router.add_get("/assets/{name}", console.asset)
    app.router.add_get("/api/state", console.state)
    app.router.add_get("/api/events", console.events)
    app.router.add_post("/api/overrides", console.set_override)
    app.router.add_delete("/api/overrides/{target}", console.clear_override)
    app.router.add_post("/api/alerts/{alert_id}/ack", console.ack_alert)
    return app


async def _stop_streams(app: web.Application) -> None:
    app[CLOSING].set()


@web.middleware
async def http_errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404 unknown path, 405 wrong method) as the console's JSON."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        word = error.reason.lower().replace(" ", "_")
        return error_response(
            word, f"{request.method} {request.path}: {error.reason}", error.status
        )


async def serve_console(
    host: ConsoleHost, auth: ConsoleAuth, bind: str, port: int
) -> web.AppRunner:
    """Serve the console on the running loop; the runner, for `await runner.cleanup()`."""
    # No access log: the live stream's URL can carry the console token (`?token=`), and a
    # URL written to a log would hand it to whoever reads the log. The console logs its
    # actions itself, never a URL or a query string.
    runner = web.AppRunner(
        console_app(host, auth), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    await web.TCPSite(runner, bind, port).start()
    host_part = f"[{bind}]" if ":" in bind else bind
    event(
        log,
        logging.INFO,
        "console serving",
        url=f"http://{host_part}:{port}/",
        actions="token" if auth.configured else "off (no console token)",
    )
    return runner
