"""Automated market makers: constant product (Uniswap v2), StableSwap (Curve) and
concentrated liquidity (Uniswap v3), as pure formula functions and ledger-backed pools."""
