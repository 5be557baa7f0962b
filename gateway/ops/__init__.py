"""Operations: what keeps the daemon observable and tidy while it runs.

- `metrics`       Prometheus counters and the loopback HTTP server of /metrics and /healthz.
- `housekeeping`  spool figures for /metrics, the spool's quota, the metrics server.
- `watch`         noticing that the site or policy file changed: the daemon's `config-watch`
                  task asks for a reload (as SIGHUP does).
- `admission`     per-source token buckets, charged before decoding: a flood is shed early.
- `refusals`      refused messages sampled and counted in the log, their letters to the
                  dead-letter file and, rate-limited, to its topic; a summary per interval.
- `notify`        systemd's notify protocol: ready, reload, stop, status, watchdog pings per tick.
Imports: `gateway.store`, `gateway.logs`, `gateway.wire`, `controllers`.
"""
