"""Aave v3 lending market (with a Compound v2 rate model option): see `market` for the
token, sign and accounting conventions."""

from protocols.lending.errors import (
    CapExceeded,
    InsufficientCollateral,
    LendingError,
    NoDebt,
    NotLiquidatable,
    ReserveDisabled,
    UnknownPosition,
    UnknownReserve,
)
from protocols.lending.health import health_factor, market_shortfall, shortfalls
from protocols.lending.liquidation import (
    LiquidationQuote,
    LiquidationResult,
    liquidation_amounts,
)
from protocols.lending.market import LendingMarket
from protocols.lending.params import ReserveParams, load_aave_params
from protocols.lending.rates import (
    SECONDS_PER_YEAR,
    JumpRate,
    KinkedRate,
    RateModel,
    compounded_interest,
    jump_rate,
    kinked_borrow_rate,
    linear_interest,
    supply_rate,
)

__all__ = [
    "SECONDS_PER_YEAR",
    "CapExceeded",
    "InsufficientCollateral",
    "JumpRate",
    "KinkedRate",
    "LendingError",
    "LendingMarket",
    "LiquidationQuote",
    "LiquidationResult",
    "NoDebt",
    "NotLiquidatable",
    "RateModel",
    "ReserveDisabled",
    "ReserveParams",
    "UnknownPosition",
    "UnknownReserve",
    "compounded_interest",
    "health_factor",
    "jump_rate",
    "kinked_borrow_rate",
    "linear_interest",
    "liquidation_amounts",
    "load_aave_params",
    "market_shortfall",
    "shortfalls",
    "supply_rate",
]
