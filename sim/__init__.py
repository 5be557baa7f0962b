"""The simulator: emulated street devices on MQTT, scenarios, runs, reports.

- `world/`    what is simulated: scenarios, walkers, junctions, arrival rates, places.
- `devices/`  the hardware: counters and their wire encoders, bins and meters, lamps, faults,
              the bus that puts them on a broker.
- `runs/`     offline and live runs, the demo, trace replay, building a district from a
              scenario, the bodies of `luciole sim` commands.
- `report/`   ground-truth metrics, plots, `summary.json` and `report.md`, the live view.
Imports: `controllers`, `gateway.wire`, `gateway.pipeline` and `gateway.config` (so an offline
run gives the daemon's own commands), aiomqtt's public API for the devices. Never `luciole`.
Inside, `runs` uses the other three, `report` uses `devices` and `world`, `devices` uses `world`.
"""
