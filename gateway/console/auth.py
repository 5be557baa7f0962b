"""Who may read the console and who may act on it: loopback reads, the token acts.

A console on 127.0.0.1 is reached by someone already on the gateway (or through an SSH
tunnel), so reading it there is open, as `luciole export` is; an action changes the street's
lights, so it always needs the console's token (`Authorization: Bearer TOKEN`), and so does
any read from another address. The token is compared in constant time. With no token
configured, actions are refused (403) with what to set, rather than open to anyone.
"""

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gateway.secrets import private_problem

READ_METHODS = frozenset({"GET", "HEAD"})

UNAUTHORIZED = {
    "error": "unauthorized",
    "detail": "send Authorization: Bearer <token> (console.token_env or console.token_file)",
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


class ConsoleAuth:
    """The console's token and the name its holder acts as (logged with every action)."""

    def __init__(self, token: str | None, owner: str = "console") -> None:
        self._token = token.encode() if token else None
        self.owner = owner

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
        return hmac.compare_digest(given.strip().encode(), self._token)

    def refusal(self, request: web.Request) -> web.Response | None:
        """Why `request` may not go on (a JSON 401 or 403), or None when it may."""
        reading = request.method in READ_METHODS
        if reading and is_loopback(request.remote):
            return None
        if not self.configured:
            return web.json_response(NO_TOKEN_READS if reading else NO_TOKEN_ACTIONS, status=403)
        if not self.bearer_ok(request.headers.get("Authorization")):
            return web.json_response(UNAUTHORIZED, status=401)
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp middleware: refuse, or pass the request on (then it acts as `owner`)."""
        refused = self.refusal(request)
        if refused is not None:
            return refused
        return await handler(request)
