"""The simulated world: scenario schema, world assembly, exogenous processes (prices, gas,
regimes), shocks, the Mesa model, the protocol-dependency graph and contagion metrics."""
