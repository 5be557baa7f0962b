"""Pure computation for Luciole: topology, policies, the numpy lighting engine, energy.

Nothing here does I/O or reads the clock: time is passed in, arrays come out.
"""
