"""Sweeps, proposal comparisons, executors (local processes / Dask), the results store, the
CLI, and the shipped scenario library in `experiments/scenarios/`."""
