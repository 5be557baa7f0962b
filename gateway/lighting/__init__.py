"""The daemon's side of the controller's rules: what goes to the lamps and what comes back.

- `control`   feeds the engine with readings and overrides, decides the commands on the wire.
- `feedback`  lamp states in, alerts out.
- `energy`    energy booked every tick, stored per interval.
- `services`  feedback and energy around the lighting, their rows written aside.
- `authority` who may override: the senders' keys, signatures checked, replays refused.
- `overrides` an override from its topic to the lamps, and its record (logged and stored).
- `voice`     the daemon's own lamp commands coming back; anyone else's alerted and corrected.
- `persist`   overrides and traffic flows as spool state rows, put back after a restart.
Imports: `gateway.ingest`, `gateway.store`, `gateway.wire`, `gateway.ops`, `controllers`.
"""
