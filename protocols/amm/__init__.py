"""Automated market makers: constant product (Uniswap v2), StableSwap (Curve) and
concentrated liquidity (Uniswap v3), as pure formula functions and ledger-backed pools.

Every pool offers the same trading surface - `tokens`, `reserves()`, `spot_price(base,
quote)`, `quote_exact_in`, `swap_exact_in`, `swap_exact_out` - so agents trade through
any of them alike.
"""

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import (
    ConstantProductPool,
    amount_in_to_target_price,
    get_amount_in,
    get_amount_out,
    impermanent_loss,
    price_impact,
)
from protocols.amm.stableswap import (
    StableSwapPool,
    get_D,
    get_dx,
    get_dy,
    get_y,
    get_y_D,
    marginal_price,
)
from protocols.amm.v3_math import (
    amounts_for_liquidity,
    compute_swap_step,
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    impermanent_loss_v3,
    liquidity_for_amounts,
    sqrt_price_to_tick,
    tick_to_sqrt_price,
)

__all__ = [
    "ConcentratedLiquidityPool",
    "ConstantProductPool",
    "StableSwapPool",
    "amount_in_to_target_price",
    "amounts_for_liquidity",
    "compute_swap_step",
    "get_D",
    "get_amount0_delta",
    "get_amount1_delta",
    "get_amount_in",
    "get_amount_out",
    "get_dx",
    "get_dy",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
    "get_y",
    "get_y_D",
    "impermanent_loss",
    "impermanent_loss_v3",
    "liquidity_for_amounts",
    "marginal_price",
    "price_impact",
    "sqrt_price_to_tick",
    "tick_to_sqrt_price",
]
