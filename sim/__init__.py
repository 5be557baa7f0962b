"""The simulator: emulated street devices on MQTT, the `luciole demo` night, its report."""
