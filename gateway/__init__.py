"""The Luciole daemon: every I/O lives here (MQTT, files, signals, HTTP).

Rooms, and what each may import (enforced by the nested `ruff.toml` files, TID251):
- `daemon`     composition root and lifecycle: one TaskGroup, named tasks, reload, stop.
- `handling`   the daemon's work on each message: admission, dispatch, publish, refuse.
- `reloading`  the daemon's configuration reloads: swapped between messages, or refused.
- `roles`      what differs by `run --role` and `--district`: subscriptions, parts, start.
- `pipeline`   the per-message dispatch, pure; shared with the offline replay in `sim`.
- `config`     site and policy files -> validated `Settings` (the only YAML read from disk).
- `logs`       one line per event, for every room (wire data escaped: one line stays one).
- `secrets`    the broker's password and TLS files and variable: present, and private.
- `wire/`      the contract: topics, payloads, trace records, the clock. Imports no other room.
- `mqtt/`      client recipe, inbox, framing, publisher, embedded broker, recorder: the only
               room that imports aiomqtt, paho or amqtt.
- `ingest/`    message -> validated readings of a registered device (uses formats, codecs).
- `formats/`   one decoder per wire format (uses codecs and wire).
- `codecs/`    vendor byte codecs (uses wire only).
- `store/`     spool, group commit, database writer, export, dead-letter, stored rows.
- `lighting/`  the daemon's side of the controller: commands, lamp feedback, energy rows.
- `services/`  the daemon's side of the city services: bins and meters, alerts, the lists.
- `console/`   the operator's page and its JSON API (aiohttp, in the daemon's loop).
- `ops/`       metrics and health, housekeeping, file watch, per-source budgets, refusals.
gateway imports `controllers`; it never imports `sim` or the command line (`luciole`).
"""
