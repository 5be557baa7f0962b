"""Who may read the console and who may act on it: loopback reads, the token acts.

The page's shell (`GET /` and `GET /assets/*`: the HTML, the script, the style) is served to
anyone: it is the same file in every install and holds no data, so a browser elsewhere can
load it and then ask its operator for the token. The data is another matter. A console on
127.0.0.1 is reached by someone already on the gateway, so reading its state there is open,
as `luciole export` is; a read from another address needs the console's token, and an action
changes the street's lights, so it always does. The token goes in `Authorization: Bearer
TOKEN`, except on the live stream (`/api/events`), which also takes it as `?token=TOKEN`:
a browser's EventSource cannot set a header. Either way it is compared in constant time,
and the console logs no URL (the server runs without aiohttp's access log), so the token in
a query string is never written down. With no token configured, actions (and reads from
other addresses) are refused (403) with what to set, rather than open to anyone.
"""

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gateway.secrets import private_problem

READ_METHODS = frozenset({"GET", "HEAD"})

# The live stream, the one read that also takes the token in its query string.
EVENTS_PATH = "/api/events"
TOKEN_PARAM = "token"

UNAUTHORIZED = {
    "error": "unauthorized",
    "detail": "send Authorization: Bearer <token> (console.token_env or console.token_file); "
    f"the live stream {EVENTS_PATH} also takes ?{TOKEN_PARAM}=<token>",
}
NO_TOKEN_ACTIONS = {
    "error": "no_console_token",
    "detail": "set console.token_env or console.token_file in the site file to allow actions",
}
NO_TOKEN_READS = {
    "error": "no_console_token",
    "detail": "set console.token_env or console.token_file in the site file to allow reads "
    "from other addresses than loopback",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IsLocal = Callable[[web.Request], bool]


def read_token(token_env: str | None, token_file: Path | None) -> str | None:
    """The console's token from the variable `token_env` or the file `token_file` (None: no
    token configured, or the variable is not set). A file group or others may read is refused
    (ValueError, saying `chmod 600`), as the broker's password file is; so is an empty one."""
    if token_env is not None:
        token = os.environ.get(token_env, "").strip()
        return token or None
    if token_file is None:
        return None
    problem = private_problem(token_file, "console token file")
    if problem is not None:
        raise ValueError(problem)
    token = token_file.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"console token file {token_file} is empty")
    return token


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback)."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def from_loopback(request: web.Request) -> bool:
    """Whether `request` comes from this machine (its peer address is loopback)."""
    return is_loopback(request.remote)


def is_shell(request: web.Request) -> bool:
    """Whether `request` reads the page's shell (`/`, `/assets/*`): no data, open to anyone."""
    if request.method not in READ_METHODS:
        return False
    return request.path == "/" or request.path.startswith("/assets/")


class ConsoleAuth:
    """The console's token and the name its holder acts as (logged with every action).

    `local` tells whether a request comes from this machine (its reads are open); by default
    the peer's address is loopback. Tests pass another to make a request look remote.
    """

    def __init__(
        self, token: str | None, owner: str = "console", local: IsLocal = from_loopback
    ) -> None:
        self._token = token.encode() if token else None
        self.owner = owner
        self.local = local

    @property
    def configured(self) -> bool:
        return self._token is not None

    def bearer_ok(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries this console's token."""
        if self._token is None or header is None:
            return False
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return self._matches(given.strip())

    def query_ok(self, request: web.Request) -> bool:
        """Whether `request` is the live stream with this console's token as `?token=`."""
        if request.method not in READ_METHODS or request.path != EVENTS_PATH:
            return False
        given = request.query.get(TOKEN_PARAM)
        return given is not None and self._matches(given.strip())

    def _matches(self, given: str) -> bool:
        if self._token is None or not given:
            return False
        return hmac.compare_digest(given.encode(), self._token)

    def refusal(self, request: web.Request) -> web.Response | None:
        """Why `request` may not go on (a JSON 401 or 403), or None when it may."""
        if is_shell(request):
            return None
        reading = request.method in READ_METHODS
        if reading and self.local(request):
            return None
        if not self.configured:
            return web.json_response(NO_TOKEN_READS if reading else NO_TOKEN_ACTIONS, status=403)
        if self.bearer_ok(request.headers.get("Authorization")):
            return None
        if reading and self.query_ok(request):
            return None
        return web.json_response(UNAUTHORIZED, status=401)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp middleware: refuse, or pass the request on (then it acts as `owner`)."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        return await handler(request)
