"""Pure DeFi mechanics: ledger and tokens, AMMs, oracles, lending markets, option vaults.

No Mesa and no randomness here: every function is deterministic and unit-testable in
isolation, following the real protocols' published formulas (each module cites its source).
Agents decide; protocols execute.
"""
