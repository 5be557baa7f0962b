"""Simulated hardware: counters (`counters`, `encoders`), bins and meters (`sensors`), lamps
(`lamps`), faults between them and the gateway (`faults`), and the bus that puts them on a
broker (`bus`). Imports `sim.world`, `gateway.wire`, `controllers`."""
