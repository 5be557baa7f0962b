"""City services: what bins and water meters tell the city. Numpy in, numpy out, time passed in.

- `advice`   settings that are legal but unwise, for check-config.
- `changes`  an alert that starts or ends, and the packed state rows both services share.
- `bins`     fill with hysteresis, emptying, fill rate and forecast, late and missed
             collections, fire and tilt: one step for all bins.
- `water`    hourly volumes from the index, leak, burst, backflow, stopped meter, night flow,
             high consumption: one step for all meters.
"""
