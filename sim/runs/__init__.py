"""Runs: offline (`offline`, `run`), live (`live`, `demo`), trace replay (`replay`), a district
built from a scenario (`build`, `district`), simulated time (`clock`) and the bodies of the
`luciole sim` commands (`commands`). Imports the rest of `sim`, `gateway.pipeline`,
`gateway.wire`, `gateway.config`, `controllers`."""
