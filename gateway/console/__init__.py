"""The operator's console: a page on the daemon's own loop to see the street and act on it.

- `host`         the seam: `ConsoleHost` (state as JSON, the actions) and `ActionResult`.
- `daemon_host`  `ConsoleHost` over the running daemon: its parts read, actions between ticks.
- `serving`      starts the console beside the daemon when the site file has `console:`.
- `server`       the aiohttp application: page, assets, `/api/state`, `/api/events`, actions.
- `auth`         loopback reads are open; actions and other addresses need the Bearer token.
- `assets/`      the page itself (HTML, JS, CSS), served from the package, never a CDN.
The console imports no MQTT library: actions go through the host, which publishes.
"""
