"""The Luciole daemon: every I/O lives here (MQTT, files, signals, the command line)."""
