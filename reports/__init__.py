"""Figures, dependency-graph drawings and the HTML report. Reads results tables; never runs
simulations itself."""
