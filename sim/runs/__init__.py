"""Runs: offline (`offline`, `run`), live (`live`, `demo`), trace replay (`replay`), a district
built from a scenario (`build`, `district`), simulated time (`clock`), policy sweeps as Dask
tasks (`sweep_plan` checks the grid and seeds, `sweep` runs the tasks, `sweep_command` writes
and prints) and the bodies of the `luciole sim` commands (`commands`). Imports the rest of
`sim`, `gateway.pipeline`, `gateway.wire`, `gateway.config`, `controllers`."""
