"""What a run gives people and machines: ground-truth metrics (`metrics`), plots (`plots`),
`summary.json` and `report.md` (`outputs`), the live view (`view`). Imports `sim.devices`,
`controllers`."""
