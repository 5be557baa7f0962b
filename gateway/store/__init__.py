"""Storage: what must survive a crash, and its way to the database.

- `spool`       the durable SQLite spool (readings and the rows stored beside them).
- `committer`   group commit: readings committed in batches, then their messages acked.
- `database`    spool -> time-series database (InfluxDB v2 write API), in batches.
- `export`      spool -> line protocol or CSV files.
- `deadletter`  every refused message, with its reason, as JSON lines.
- `records`     alert and energy rows in the spool's row format.
Imports: `gateway.ingest` (reading types), `gateway.logs`, `controllers`.
"""
