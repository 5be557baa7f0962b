"""What a run gives people and machines: ground-truth metrics (`metrics`), plots (`plots`),
`summary.json` and `report.md` (`outputs`), the live view (`view`), a sweep's table and Pareto
front (`sweep_table`) and its plot (`sweep_plot`). Imports `sim.devices`, `controllers`."""
