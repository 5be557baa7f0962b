"""Operations: what keeps the daemon observable and tidy while it runs.

- `metrics`       Prometheus counters and the loopback HTTP server of /metrics and /healthz.
- `housekeeping`  spool figures for /metrics, the spool's quota, the metrics server.
- `watch`         noticing that the site or policy file changed: the daemon's `config-watch`
                  task asks for a reload (as SIGHUP does).
Imports: `gateway.store`, `gateway.logs`.
"""
