"""Storage: what must survive a crash, and its way to the database.

- `spool`       the durable SQLite spool (readings and the rows stored beside them).
- `committer`   group commit: readings committed in batches, then their messages acked.
- `database`    spool -> time-series database (InfluxDB v2 write API), in batches.
- `lines`       a spooled reading as InfluxDB line protocol, or why it cannot be one.
- `export`      spool -> line protocol or CSV files.
- `deadletter`  refused messages, with their reason and a bounded excerpt, as JSON lines.
- `private`     files for the daemon's user alone: 0600 in 0700 folders, whatever the umask.
- `records`     alert and energy rows in the spool's row format.
Imports: `gateway.ingest` (reading types), `gateway.logs`, `controllers`.
"""
