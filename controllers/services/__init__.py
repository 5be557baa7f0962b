"""City services: what bins and water meters tell the city. Numpy in, numpy out, time passed in.

- `advice`   settings that are legal but unwise, for check-config.
- `changes`  an alert that starts or ends, and the packed state rows both services share.
- `bins`     fill with hysteresis, emptying, fill rate and forecast, late and missed
             collections, fire and tilt: one step for all bins.
- `bins_rules`  the bins' thresholds, collection days and batch of readings (re-exported by bins).
- `bins_state`  what the rules remember of every bin, its packed layout (re-exported by bins).
- `water`    hourly volumes from the index, leak, burst, backflow, stopped meter, night flow,
             high consumption: one step for all meters.
- `water_rules`  the meters' flags, thresholds and batch of readings (re-exported by water).
- `water_state`  what the rules remember of every meter, its packed layout (re-exported by water).
- `water_hourly`  the rules run as each hour completes: leak, night flow, a period's consumption.
"""
