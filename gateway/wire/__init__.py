"""The wire contract: what the daemon and anything talking to it (devices, the simulator,
trace tools) agree on. Imports nothing from other rooms of gateway; `sim` may import it.

- `topics`    MQTT topic names and their parsing, topic-filter matching.
- `payloads`  native payloads and lamp commands and states as pydantic models; sensor kinds.
- `outbound`  a message to publish (topic, JSON, retained or not): alerts and lists.
- `trace`     the trace file format (JSON lines) and its reader.
- `clock`     time as the daemon is given it (injected; the simulator runs it faster).
- `signing`   what an override's sender signs (RFC 8785 JSON and the topic) and the HMAC.
"""
