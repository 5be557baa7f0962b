"""The daemon's side of the city services: bins and water meters, their alerts and lists.

- `registry`  the site's bins and meters as arrays, the rules from the policy, and readings
              turned into the controllers' batches.
- `city`      `CityServices`: readings in, one numpy step per batch, alerts, lists and the
              state rows out (stored with the readings that changed them).
- `alerts`    a rule's change as the alert contract's message and row.
- `lists`     the collection list (`bins/due`) and the active leaks, from the state.
- `persist`   the rules' state per device as spool state rows, and back.
Imports `controllers`, `gateway.wire`, `gateway.ingest.readings` and `gateway.store`.
"""
