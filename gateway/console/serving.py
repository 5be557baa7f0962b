"""Starting the console beside the daemon when the site file asks for one.

The token is read once, at start (a new token needs a restart, like the broker's password);
one that cannot be read, or a port already taken, leaves the console off, said loudly,
rather than open to anyone's actions or the daemon down for a page.
"""

import logging

from aiohttp import web

from gateway.config import Settings
from gateway.console.auth import ConsoleAuth, read_token
from gateway.console.host import ConsoleHost
from gateway.console.server import serve_console
from gateway.logs import event

log = logging.getLogger("luciole.gateway")


async def start_console(settings: Settings, host: ConsoleHost) -> web.AppRunner | None:
    """The console's runner (None: not configured, or its token cannot be read)."""
    console = settings.site.console
    if console is None:
        return None
    token_file = (
        settings.site_path.parent / console.token_file if console.token_file is not None else None
    )
    try:
        token = read_token(console.token_env, token_file)
    except (OSError, ValueError) as error:
        event(log, logging.ERROR, "console not started: its token cannot be read", error=str(error))
        return None
    try:
        return await serve_console(host, ConsoleAuth(token), console.bind, console.port)
    except OSError as error:  # the port is taken, the address is not ours
        event(
            log,
            logging.ERROR,
            "console not started: cannot listen",
            bind=console.bind,
            port=console.port,
            error=str(error),
        )
        return None
