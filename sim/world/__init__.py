"""The simulated world: scenarios, walkers, junctions, arrival rates, places. Imports
`controllers` only (and nothing else of `sim`)."""
