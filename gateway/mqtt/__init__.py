"""MQTT: the only room of the daemon that imports aiomqtt, paho or amqtt.

- `client`     the client recipe of a site (protocol, session, credentials, TLS, socket options).
- `inbox`      messages in batches straight off the socket, acknowledged after the commit;
               a public path (paho's on_message and ack) when the private hooks are not there.
- `hooks`      every private attribute of aiomqtt and paho used here, and their start-up check
               against the versions tested (pinned in pyproject.toml and constraints.txt).
- `framing`    buffered reads and PUBLISH packets taken out of them; a payload over the
               limit streams through, and only its excerpt, size and digest are kept.
- `publisher`  outgoing messages without waiting for each acknowledgement, with a bound.
- `broker`     the embedded broker of the demo (amqtt, from the `sim` extra, in a process of
               its own).
- `recorder`   `luciole record` and `luciole replay` on a broker.
Private API of aiomqtt and paho is used in `hooks` only, each use marked (SLF001) with why.
Imports: `gateway.wire`, `gateway.logs`, `gateway.secrets`, `gateway.ingest` (the recorder's
filters), `controllers`.
"""
