"""Ingestion: one MQTT message in, validated readings of a registered device out, or a reason.

- `intake`    routes, registry, de-duplication, the decode of one message.
- `clocks`    the one rule for device times: implausible ones give way to the receive time.
- `readings`  the three reading kinds, the normalisation rules (totals to deltas, distance to
              fill), and `Spooled`, a reading ready for the spool.
Imports: `gateway.formats`, `gateway.codecs`, `gateway.wire`, `gateway.logs`, `controllers`.
"""
